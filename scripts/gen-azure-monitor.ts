// Regenerates extension/azure/workbook.json (from queries/*.kql) and extension/azure/azuredeploy.json
// (tables and DCR stream declarations from the column definitions in src/sinks/record.ts, the
// workbook embedded). Run after changing a column or a query:
//   node --import tsx scripts/gen-azure-monitor.ts
// test/sinks/schema-agreement.test.ts and kql.test.ts fail when the files and the code disagree.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALERT_COLUMNS, ALERT_STREAM, ALERT_TABLE, RECORD_COLUMNS, RECORD_STREAM, RECORD_TABLE, type ColumnDef } from '../src/sinks/record.js';

const azure = fileURLToPath(new URL('../extension/azure/', import.meta.url));

export const DEFAULT_WORKSPACE = '__DEFAULT_WORKSPACE__';
export const STALE_PLACEHOLDER = 'STALE_MINUTES';
const q = (f: string): string => readFileSync(join(azure, 'queries', `${f}.kql`), 'utf8');
// The workbook's own time range (TimeRange parameter) narrows every query; the queries keep their
// own ago() bounds so that they also work pasted into Log Analytics.
const kql = (name: string, title: string, file: string, visualization: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 3,
  name,
  content: {
    version: 'KqlItem/1.0',
    query: q(file),
    size: 0,
    title,
    timeContextFromParameter: 'TimeRange',
    queryType: 0,
    resourceType: 'microsoft.operationalinsights/workspaces',
    crossComponentResources: ['{Workspace}'],
    visualization,
    ...extra,
  },
  ...(extra.width ? { customWidth: extra.width } : {}),
});
const wb = {
  version: 'Notebook/1.0',
  items: [
    {
      type: 1,
      name: 'intro',
      content: {
        json: '## Confidential VM attestation (cvm-attest)\nLatest attestation of every reporting VM, failures with reasons, silent VMs, platform TCB and launch measurements, and the alerts raised. Data: `CvmAttestation_CL` and `CvmAttestationAlert_CL` (see docs/azure-monitor.md).',
      },
    },
    {
      type: 9,
      name: 'parameters',
      content: {
        version: 'KqlParameterItem/1.0',
        parameters: [
          {
            id: 'a6f1c7d2-0002-4c1e-9a51-3f1b2c3d4e02',
            version: 'KqlParameterItem/1.0',
            name: 'TimeRange',
            label: 'Time range',
            type: 4,
            isRequired: true,
            value: { durationMs: 86400000 },
            typeSettings: {
              selectableValues: [3600000, 14400000, 43200000, 86400000, 259200000, 604800000, 2592000000].map((durationMs) => ({ durationMs })),
              allowCustom: true,
            },
          },
          // DEFAULT_WORKSPACE is replaced by the template with the workspace it deploys for.
          {
            id: 'a6f1c7d2-0001-4c1e-9a51-3f1b2c3d4e01',
            version: 'KqlParameterItem/1.0',
            name: 'Workspace',
            type: 5,
            isRequired: true,
            multiSelect: false,
            value: DEFAULT_WORKSPACE,
            query: 'where type =~ "microsoft.operationalinsights/workspaces"\n| project id',
            crossComponentResources: ['value::all'],
            typeSettings: { resourceTypeFilter: { 'microsoft.operationalinsights/workspaces': true } },
            queryType: 1,
            resourceType: 'microsoft.resourcegraph/resources',
          },
        ],
        style: 'pills',
        queryType: 1,
        resourceType: 'microsoft.resourcegraph/resources',
      },
    },
    kql('fleet-compliance', 'Fleet compliance (latest run per VM, last 24 h)', 'fleet-compliance', 'tiles', {
      tileSettings: {
        showBorder: true,
        titleContent: { columnMatch: 'CompliancePercent', formatter: 1 },
        leftContent: { columnMatch: 'Passing', formatter: 12 },
        secondaryContent: { columnMatch: 'Failing', formatter: 1 },
      },
    }),
    kql('failing-vms', 'Failing VMs and why', 'failing-vms', 'table'),
    kql('verifier-compliance', 'Fleet compliance by attested identity (remote verifier records, last 24 h)', 'verifier-compliance', 'tiles', {
      tileSettings: {
        showBorder: true,
        titleContent: { columnMatch: 'CompliancePercent', formatter: 1 },
        leftContent: { columnMatch: 'Passing', formatter: 12 },
        secondaryContent: { columnMatch: 'Failing', formatter: 1 },
      },
    }),
    kql('claimed-identity-mismatch', "VMs claiming another VM's identity (verifier records, 7 days)", 'claimed-identity-mismatch', 'table'),
    kql('stale-reporters', 'Stale reporters (silent for 3 h)', 'stale-reporters', 'table'),
    kql('tcb-distribution', 'Reported TCB distribution', 'tcb-distribution', 'table', { width: '50' }),
    kql('measurement-distribution', 'Launch measurements', 'measurement-distribution', 'table', { width: '50' }),
    kql('tdx-tcb-status', 'Intel TDX TCB status and advisories', 'tdx-tcb-status', 'table'),
    kql('guest-boot-state', 'Guest: freshness, Secure Boot, AK certificate (latest run per VM)', 'guest-boot-state', 'table'),
    kql('alerts-by-severity', 'Alerts by severity (7 days)', 'alerts-by-severity', 'barchart'),
    kql('recent-alerts', 'Recent alerts', 'recent-alerts', 'table'),
  ],
  fallbackResourceIds: [],
  $schema: 'https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json',
};
for (const i of wb.items) delete (i.content as Record<string, unknown>).width;
writeFileSync(join(azure, 'workbook.json'), JSON.stringify(wb, null, 2) + '\n');

const tableCols = (cols: readonly ColumnDef[]): object[] =>
  cols.map((c) => ({ name: c.name, type: c.type === 'datetime' ? 'dateTime' : c.type, description: c.description.replace(/`/g, '').slice(0, 1000) }));
const streamCols = (cols: readonly ColumnDef[]): object[] => cols.map((c) => ({ name: c.name, type: c.type }));
const table = (t: string, cols: readonly ColumnDef[]): object => ({
  type: 'Microsoft.OperationalInsights/workspaces/tables',
  apiVersion: '2022-10-01',
  name: `[format('{0}/{1}', parameters('workspaceName'), '${t}')]`,
  properties: { plan: 'Analytics', retentionInDays: "[parameters('retentionInDays')]", schema: { name: t, columns: tableCols(cols) } },
});
const DCR_API = '2023-03-11';
const MI_API = '2023-01-31';
const dcrId = "resourceId('Microsoft.Insights/dataCollectionRules', parameters('dataCollectionRuleName'))";
const dceId = "resourceId('Microsoft.Insights/dataCollectionEndpoints', parameters('dataCollectionEndpointName'))";
const miId = "resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', parameters('identityName'))";
// With a Data Collection Endpoint (private link) the agent sends to the DCE, else to the DCR's own endpoint.
const ingestEndpoint = `[if(parameters('useDataCollectionEndpoint'), reference(${dceId}, '${DCR_API}').logsIngestion.endpoint, reference(${dcrId}, '${DCR_API}').endpoints.logsIngestion)]`;
const alertQuery = (f: string): string => readFileSync(join(azure, 'alerts', `${f}.kql`), 'utf8');
// A log search alert rule over the workspace: one alert per VM (dimension VmId) on the VM itself.
const alertRule = (id: string, displayName: string, description: string, severity: number, query: string, evaluationFrequency: string, windowSize: string) => ({
  type: 'Microsoft.Insights/scheduledQueryRules',
  apiVersion: '2023-12-01',
  condition: "[parameters('enableAlertRules')]",
  name: `[format('{0}-${id}', parameters('alertRulePrefix'))]`,
  location: "[parameters('location')]",
  kind: 'LogAlert',
  dependsOn: [
    "[resourceId('Microsoft.Resources/deployments', 'cvm-attest-tables')]",
    "[resourceId('Microsoft.Insights/actionGroups', parameters('actionGroupName'))]",
  ],
  properties: {
    displayName,
    description,
    severity,
    enabled: true,
    autoMitigate: true,
    evaluationFrequency,
    windowSize,
    scopes: ["[variables('workspaceId')]"],
    skipQueryValidation: true,
    criteria: {
      allOf: [
        {
          query,
          timeAggregation: 'Count',
          operator: 'GreaterThan',
          threshold: 0,
          resourceIdColumn: 'ResourceId',
          dimensions: [{ name: 'VmId', operator: 'Include', values: ['*'] }],
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 },
        },
      ],
    },
    actions: { actionGroups: "[variables('actionGroups')]", customProperties: { source: 'cvm-attest' } },
  },
});
const tpl = {
  $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
  contentVersion: '1.0.0.0',
  metadata: {
    description:
      'cvm-attest fleet reporting: custom tables in an existing Log Analytics workspace (in this or another resource group), a Direct Data Collection Rule whose streams match the records cvm-attest sends (optionally behind a Data Collection Endpoint for private link), one user-assigned identity allowed to ingest through it (Monitoring Metrics Publisher on the DCR), the workbook, log search alert rules with an action group, and the sinks settings for the extension as outputs.',
  },
  parameters: {
    workspaceName: { type: 'string', metadata: { description: 'Existing Log Analytics workspace.' } },
    workspaceResourceGroup: {
      type: 'string',
      defaultValue: '[resourceGroup().name]',
      metadata: { description: 'Resource group of the workspace (default: this one); the tables are deployed there.' },
    },
    location: {
      type: 'string',
      defaultValue: '[resourceGroup().location]',
      metadata: { description: "Region of the DCR, the identity and the alert rules (the workspace's region)." },
    },
    dataCollectionRuleName: { type: 'string', defaultValue: 'dcr-cvm-attest', metadata: { description: 'Name of the Data Collection Rule.' } },
    useDataCollectionEndpoint: {
      type: 'bool',
      defaultValue: false,
      metadata: { description: 'Send through a Data Collection Endpoint (needed for private link: add it to your Azure Monitor Private Link Scope).' },
    },
    dataCollectionEndpointName: {
      type: 'string',
      defaultValue: 'dce-cvm-attest',
      metadata: { description: 'Name of the Data Collection Endpoint (with useDataCollectionEndpoint).' },
    },
    dataCollectionEndpointPublicNetworkAccess: {
      type: 'string',
      defaultValue: 'Disabled',
      allowedValues: ['Enabled', 'Disabled', 'SecuredByPerimeter'],
      metadata: { description: 'Public network access of the endpoint: Disabled means private link only.' },
    },
    identityName: { type: 'string', defaultValue: 'id-cvm-attest-ingest', metadata: { description: 'User-assigned identity attached to every reporting VM.' } },
    workbookDisplayName: {
      type: 'string',
      defaultValue: 'Confidential VM attestation (cvm-attest)',
      metadata: { description: 'Name of the shared workbook (queries of extension/azure/queries).' },
    },
    retentionInDays: { type: 'int', defaultValue: 90, minValue: 4, maxValue: 730, metadata: { description: 'Retention of the two tables.' } },
    enableAlertRules: {
      type: 'bool',
      defaultValue: true,
      metadata: { description: 'Create the log search alert rules (failing attestation, TCB rollback or debug, stale reporter).' },
    },
    alertRulePrefix: { type: 'string', defaultValue: 'cvm-attest', metadata: { description: 'Prefix of the alert rule names.' } },
    reportIntervalMinutes: {
      type: 'int',
      defaultValue: 60,
      minValue: 5,
      maxValue: 1440,
      metadata: { description: "The agents' intervalMinutes: a VM silent for twice this raises the stale reporter alert." },
    },
    failedRuleWindow: {
      type: 'string',
      defaultValue: 'PT2H',
      allowedValues: ['PT1H', 'PT2H', 'PT3H', 'PT6H', 'PT12H', 'P1D'],
      metadata: { description: 'Window of the failing-attestation rule: at least twice reportIntervalMinutes, so that every VM has a run in it.' },
    },
    actionGroupResourceId: {
      type: 'string',
      defaultValue: '',
      metadata: { description: 'Existing action group to notify. Empty: one is created when an e-mail address or a webhook is given.' },
    },
    actionGroupName: { type: 'string', defaultValue: 'ag-cvm-attest', metadata: { description: 'Name of the action group created here.' } },
    alertEmailAddress: { type: 'string', defaultValue: '', metadata: { description: 'E-mail receiver of the created action group.' } },
    alertWebhookUrl: {
      type: 'securestring',
      defaultValue: '',
      metadata: { description: 'Webhook receiver of the created action group (common alert schema).' },
    },
  },
  variables: {
    recordStream: RECORD_STREAM,
    alertStream: ALERT_STREAM,
    monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
    workspaceId: "[resourceId(parameters('workspaceResourceGroup'), 'Microsoft.OperationalInsights/workspaces', parameters('workspaceName'))]",
    workbookContent: JSON.stringify(JSON.parse(readFileSync(join(azure, 'workbook.json'), 'utf8'))),
    createActionGroup:
      "[and(empty(parameters('actionGroupResourceId')), or(not(empty(parameters('alertEmailAddress'))), not(empty(parameters('alertWebhookUrl')))))]",
    actionGroups:
      "[if(not(empty(parameters('actionGroupResourceId'))), createArray(parameters('actionGroupResourceId')), if(variables('createActionGroup'), createArray(resourceId('Microsoft.Insights/actionGroups', parameters('actionGroupName'))), createArray()))]",
    staleQuery: alertQuery('stale-reporter'),
  },
  resources: [
    {
      // The tables live with the workspace, possibly in another resource group.
      type: 'Microsoft.Resources/deployments',
      apiVersion: '2024-11-01',
      name: 'cvm-attest-tables',
      resourceGroup: "[parameters('workspaceResourceGroup')]",
      properties: {
        mode: 'Incremental',
        expressionEvaluationOptions: { scope: 'Inner' },
        parameters: { workspaceName: { value: "[parameters('workspaceName')]" }, retentionInDays: { value: "[parameters('retentionInDays')]" } },
        template: {
          $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
          contentVersion: '1.0.0.0',
          parameters: { workspaceName: { type: 'string' }, retentionInDays: { type: 'int' } },
          resources: [table(RECORD_TABLE, RECORD_COLUMNS), table(ALERT_TABLE, ALERT_COLUMNS)],
        },
      },
    },
    {
      type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
      apiVersion: MI_API,
      name: "[parameters('identityName')]",
      location: "[parameters('location')]",
    },
    {
      type: 'Microsoft.Insights/dataCollectionEndpoints',
      apiVersion: DCR_API,
      condition: "[parameters('useDataCollectionEndpoint')]",
      name: "[parameters('dataCollectionEndpointName')]",
      location: "[parameters('location')]",
      properties: {
        description: 'cvm-attest ingestion (private link)',
        networkAcls: { publicNetworkAccess: "[parameters('dataCollectionEndpointPublicNetworkAccess')]" },
      },
    },
    {
      type: 'Microsoft.Insights/dataCollectionRules',
      apiVersion: DCR_API,
      name: "[parameters('dataCollectionRuleName')]",
      location: "[parameters('location')]",
      kind: 'Direct',
      dependsOn: ["[resourceId('Microsoft.Resources/deployments', 'cvm-attest-tables')]", `[${dceId}]`],
      properties: {
        description: 'cvm-attest attestation records and alerts',
        dataCollectionEndpointId: `[if(parameters('useDataCollectionEndpoint'), ${dceId}, null())]`,
        streamDeclarations: { [RECORD_STREAM]: { columns: streamCols(RECORD_COLUMNS) }, [ALERT_STREAM]: { columns: streamCols(ALERT_COLUMNS) } },
        destinations: { logAnalytics: [{ name: 'workspace', workspaceResourceId: "[variables('workspaceId')]" }] },
        dataFlows: [
          { streams: [RECORD_STREAM], destinations: ['workspace'], transformKql: 'source', outputStream: `Custom-${RECORD_TABLE}` },
          { streams: [ALERT_STREAM], destinations: ['workspace'], transformKql: 'source', outputStream: `Custom-${ALERT_TABLE}` },
        ],
      },
    },
    {
      type: 'Microsoft.Authorization/roleAssignments',
      apiVersion: '2022-04-01',
      scope: "[format('Microsoft.Insights/dataCollectionRules/{0}', parameters('dataCollectionRuleName'))]",
      name: `[guid(${dcrId}, ${miId}, variables('monitoringMetricsPublisher'))]`,
      dependsOn: [`[${dcrId}]`, `[${miId}]`],
      properties: {
        roleDefinitionId: "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', variables('monitoringMetricsPublisher'))]",
        principalId: `[reference(${miId}, '${MI_API}').principalId]`,
        principalType: 'ServicePrincipal',
      },
    },
    {
      type: 'Microsoft.Insights/workbooks',
      apiVersion: '2023-06-01',
      name: "[guid(resourceGroup().id, 'cvm-attest-workbook', parameters('workspaceName'))]",
      location: "[parameters('location')]",
      kind: 'shared',
      properties: {
        displayName: "[parameters('workbookDisplayName')]",
        category: 'workbook',
        version: '1.0',
        serializedData: `[replace(variables('workbookContent'), '${DEFAULT_WORKSPACE}', variables('workspaceId'))]`,
        sourceId: "[variables('workspaceId')]",
      },
    },
    {
      type: 'Microsoft.Insights/actionGroups',
      apiVersion: '2023-01-01',
      condition: "[variables('createActionGroup')]",
      name: "[parameters('actionGroupName')]",
      location: 'Global',
      properties: {
        groupShortName: 'cvmattest',
        enabled: true,
        emailReceivers:
          "[if(empty(parameters('alertEmailAddress')), createArray(), createArray(createObject('name', 'email', 'emailAddress', parameters('alertEmailAddress'), 'useCommonAlertSchema', true)))]",
        webhookReceivers:
          "[if(empty(parameters('alertWebhookUrl')), createArray(), createArray(createObject('name', 'webhook', 'serviceUri', parameters('alertWebhookUrl'), 'useCommonAlertSchema', true)))]",
      },
    },
    alertRule(
      'attestation-failed',
      'Confidential VM failing attestation (cvm-attest)',
      'The latest attestation of a VM did not pass (fail: evidence rejected; error: no evidence). See the workbook\'s "Failing VMs and why".',
      1,
      alertQuery('attestation-failed'),
      'PT15M',
      "[parameters('failedRuleWindow')]",
    ),
    alertRule(
      'tcb-rollback-or-debug',
      'Confidential VM TCB rollback or debug policy (cvm-attest)',
      'The agent raised CvmAttest_TcbRollback (the platform TCB went down) or CvmAttest_DebugEnabled (the hypervisor can read guest memory).',
      0,
      alertQuery('tcb-rollback-or-debug'),
      'PT15M',
      'PT30M',
    ),
    alertRule(
      'stale-reporter',
      'Confidential VM stopped reporting (cvm-attest)',
      'A VM that reported in the last 2 days has sent nothing for two reporting intervals: the extension, the identity or the network is broken, or the VM is stopped.',
      2,
      `[replace(variables('staleQuery'), '${STALE_PLACEHOLDER}', string(mul(2, parameters('reportIntervalMinutes'))))]`,
      'PT1H',
      'P2D',
    ),
  ],
  outputs: {
    logsIngestionEndpoint: { type: 'string', value: ingestEndpoint },
    dcrImmutableId: { type: 'string', value: `[reference(${dcrId}, '${DCR_API}').immutableId]` },
    streamName: { type: 'string', value: "[variables('recordStream')]" },
    alertsStreamName: { type: 'string', value: "[variables('alertStream')]" },
    identityResourceId: { type: 'string', value: `[${miId}]` },
    identityClientId: { type: 'string', value: `[reference(${miId}, '${MI_API}').clientId]` },
    sinksSettings: {
      type: 'object',
      value: {
        azureMonitor: {
          endpoint: ingestEndpoint,
          dcrImmutableId: `[reference(${dcrId}, '${DCR_API}').immutableId]`,
          streamName: "[variables('recordStream')]",
          alertsStreamName: "[variables('alertStream')]",
          identity: { clientId: `[reference(${miId}, '${MI_API}').clientId]` },
        },
        alerts: { enabled: true },
      },
    },
  },
};
writeFileSync(join(azure, 'azuredeploy.json'), JSON.stringify(tpl, null, 2) + '\n');
