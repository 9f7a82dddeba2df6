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

const q = (f: string): string => readFileSync(join(azure, 'queries', `${f}.kql`), 'utf8');
const kql = (name: string, title: string, file: string, visualization: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 3, name,
  content: { version: 'KqlItem/1.0', query: q(file), size: 0, title, queryType: 0, resourceType: 'microsoft.operationalinsights/workspaces',
    crossComponentResources: ['{Workspace}'], visualization, ...extra },
  ...(extra.width ? { customWidth: extra.width } : {}),
});
const wb = {
  version: 'Notebook/1.0',
  items: [
    { type: 1, name: 'intro', content: { json: '## Confidential VM attestation (cvm-attest)\nLatest attestation of every reporting VM, failures with reasons, silent VMs, platform TCB and launch measurements, and the alerts raised. Data: `CvmAttestation_CL` and `CvmAttestationAlert_CL` (see docs/azure-monitor.md).' } },
    { type: 9, name: 'parameters', content: { version: 'KqlParameterItem/1.0', parameters: [
      { id: 'a6f1c7d2-0001-4c1e-9a51-3f1b2c3d4e01', version: 'KqlParameterItem/1.0', name: 'Workspace', type: 5, isRequired: true, multiSelect: false,
        query: 'where type =~ "microsoft.operationalinsights/workspaces"\n| project id', crossComponentResources: ['value::all'], typeSettings: { resourceTypeFilter: { 'microsoft.operationalinsights/workspaces': true } }, queryType: 1, resourceType: 'microsoft.resourcegraph/resources' },
    ], style: 'pills', queryType: 1, resourceType: 'microsoft.resourcegraph/resources' } },
    kql('fleet-compliance', 'Fleet compliance (latest run per VM, last 24 h)', 'fleet-compliance', 'tiles', {
      tileSettings: { showBorder: true, titleContent: { columnMatch: 'CompliancePercent', formatter: 1 }, leftContent: { columnMatch: 'Passing', formatter: 12 }, secondaryContent: { columnMatch: 'Failing', formatter: 1 } } }),
    kql('failing-vms', 'Failing VMs and why', 'failing-vms', 'table'),
    kql('stale-reporters', 'Stale reporters (silent for 3 h)', 'stale-reporters', 'table'),
    kql('tcb-distribution', 'Reported TCB distribution', 'tcb-distribution', 'table', { width: '50' }),
    kql('measurement-distribution', 'Launch measurements', 'measurement-distribution', 'table', { width: '50' }),
    kql('alerts-by-severity', 'Alerts by severity (7 days)', 'alerts-by-severity', 'barchart'),
    kql('recent-alerts', 'Recent alerts', 'recent-alerts', 'table'),
  ],
  fallbackResourceIds: [],
  $schema: 'https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json',
};
for (const i of wb.items) delete (i.content as Record<string, unknown>).width;
writeFileSync(join(azure, 'workbook.json'), JSON.stringify(wb, null, 2) + '\n');

const tableCols = (cols: readonly ColumnDef[]): object[] => cols.map((c) => ({ name: c.name, type: c.type === 'datetime' ? 'dateTime' : c.type, description: c.description.replace(/`/g, '').slice(0, 1000) }));
const streamCols = (cols: readonly ColumnDef[]): object[] => cols.map((c) => ({ name: c.name, type: c.type }));
const table = (t: string, cols: readonly ColumnDef[]): object => ({
  type: 'Microsoft.OperationalInsights/workspaces/tables', apiVersion: '2022-10-01',
  name: `[format('{0}/{1}', parameters('workspaceName'), '${t}')]`,
  properties: { plan: 'Analytics', retentionInDays: "[parameters('retentionInDays')]", schema: { name: t, columns: tableCols(cols) } },
});
const tpl = {
  $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
  contentVersion: '1.0.0.0',
  metadata: { description: 'cvm-attest fleet reporting: custom tables in an existing Log Analytics workspace, a Direct Data Collection Rule whose streams match the records cvm-attest sends, one user-assigned identity allowed to ingest through it (Monitoring Metrics Publisher on the DCR), and the sinks settings for the extension as outputs.' },
  parameters: {
    workspaceName: { type: 'string', metadata: { description: 'Existing Log Analytics workspace in this resource group.' } },
    location: { type: 'string', defaultValue: '[resourceGroup().location]', metadata: { description: 'Region of the DCR and the identity (the workspace\'s region).' } },
    dataCollectionRuleName: { type: 'string', defaultValue: 'dcr-cvm-attest', metadata: { description: 'Name of the Data Collection Rule.' } },
    identityName: { type: 'string', defaultValue: 'id-cvm-attest-ingest', metadata: { description: 'User-assigned identity attached to every reporting VM.' } },
    workbookDisplayName: { type: 'string', defaultValue: 'Confidential VM attestation (cvm-attest)', metadata: { description: 'Name of the shared workbook (queries of extension/azure/queries).' } },
    retentionInDays: { type: 'int', defaultValue: 90, minValue: 4, maxValue: 730, metadata: { description: 'Retention of the two tables.' } },
  },
  variables: {
    recordStream: RECORD_STREAM,
    alertStream: ALERT_STREAM,
    monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
    workbookContent: JSON.stringify(JSON.parse(readFileSync(join(azure, 'workbook.json'), 'utf8'))),
  },
  resources: [
    table(RECORD_TABLE, RECORD_COLUMNS),
    table(ALERT_TABLE, ALERT_COLUMNS),
    { type: 'Microsoft.ManagedIdentity/userAssignedIdentities', apiVersion: '2023-01-31', name: "[parameters('identityName')]", location: "[parameters('location')]" },
    {
      type: 'Microsoft.Insights/dataCollectionRules', apiVersion: '2023-03-11', name: "[parameters('dataCollectionRuleName')]", location: "[parameters('location')]", kind: 'Direct',
      dependsOn: [
        `[resourceId('Microsoft.OperationalInsights/workspaces/tables', parameters('workspaceName'), '${RECORD_TABLE}')]`,
        `[resourceId('Microsoft.OperationalInsights/workspaces/tables', parameters('workspaceName'), '${ALERT_TABLE}')]`,
      ],
      properties: {
        description: 'cvm-attest attestation records and alerts',
        streamDeclarations: { [RECORD_STREAM]: { columns: streamCols(RECORD_COLUMNS) }, [ALERT_STREAM]: { columns: streamCols(ALERT_COLUMNS) } },
        destinations: { logAnalytics: [{ name: 'workspace', workspaceResourceId: "[resourceId('Microsoft.OperationalInsights/workspaces', parameters('workspaceName'))]" }] },
        dataFlows: [
          { streams: [RECORD_STREAM], destinations: ['workspace'], transformKql: 'source', outputStream: `Custom-${RECORD_TABLE}` },
          { streams: [ALERT_STREAM], destinations: ['workspace'], transformKql: 'source', outputStream: `Custom-${ALERT_TABLE}` },
        ],
      },
    },
    {
      type: 'Microsoft.Authorization/roleAssignments', apiVersion: '2022-04-01',
      scope: "[format('Microsoft.Insights/dataCollectionRules/{0}', parameters('dataCollectionRuleName'))]",
      name: "[guid(resourceId('Microsoft.Insights/dataCollectionRules', parameters('dataCollectionRuleName')), resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', parameters('identityName')), variables('monitoringMetricsPublisher'))]",
      dependsOn: [
        "[resourceId('Microsoft.Insights/dataCollectionRules', parameters('dataCollectionRuleName'))]",
        "[resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', parameters('identityName'))]",
      ],
      properties: {
        roleDefinitionId: "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', variables('monitoringMetricsPublisher'))]",
        principalId: "[reference(resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', parameters('identityName')), '2023-01-31').principalId]",
        principalType: 'ServicePrincipal',
      },
    },
    {
      type: 'Microsoft.Insights/workbooks', apiVersion: '2022-04-01', name: "[guid(resourceGroup().id, 'cvm-attest-workbook', parameters('workspaceName'))]",
      location: "[parameters('location')]", kind: 'shared',
      properties: {
        displayName: "[parameters('workbookDisplayName')]", category: 'workbook', version: '1.0',
        serializedData: "[variables('workbookContent')]",
        sourceId: "[resourceId('Microsoft.OperationalInsights/workspaces', parameters('workspaceName'))]",
      },
    },
  ],
  outputs: {
    logsIngestionEndpoint: { type: 'string', value: "[reference(resourceId('Microsoft.Insights/dataCollectionRules', parameters('dataCollectionRuleName')), '2023-03-11').endpoints.logsIngestion]" },
    dcrImmutableId: { type: 'string', value: "[reference(resourceId('Microsoft.Insights/dataCollectionRules', parameters('dataCollectionRuleName')), '2023-03-11').immutableId]" },
    streamName: { type: 'string', value: "[variables('recordStream')]" },
    alertsStreamName: { type: 'string', value: "[variables('alertStream')]" },
    identityResourceId: { type: 'string', value: "[resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', parameters('identityName'))]" },
    identityClientId: { type: 'string', value: "[reference(resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', parameters('identityName')), '2023-01-31').clientId]" },
    sinksSettings: {
      type: 'object',
      value: {
        azureMonitor: {
          endpoint: "[reference(resourceId('Microsoft.Insights/dataCollectionRules', parameters('dataCollectionRuleName')), '2023-03-11').endpoints.logsIngestion]",
          dcrImmutableId: "[reference(resourceId('Microsoft.Insights/dataCollectionRules', parameters('dataCollectionRuleName')), '2023-03-11').immutableId]",
          streamName: "[variables('recordStream')]",
          alertsStreamName: "[variables('alertStream')]",
          identity: { clientId: "[reference(resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', parameters('identityName')), '2023-01-31').clientId]" },
        },
        alerts: { enabled: true },
      },
    },
  },
};
writeFileSync(join(azure, 'azuredeploy.json'), JSON.stringify(tpl, null, 2) + '\n');
