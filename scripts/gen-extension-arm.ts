// Regenerates the extension's deployment files from one description of the extension resource:
//   extension/arm/azuredeploy.json            one existing VM
//   extension/arm/azuredeploy-multi.json      several existing VMs (copy loop over vmNames)
//   extension/arm/azuredeploy-vmss.json       an existing scale set (Uniform or Flexible)
//   extension/policy/*.json                   Azure Policy definitions and the initiative
// Run after changing one of them:  node --import tsx scripts/gen-extension-arm.ts
// test/extension/fleet-arm.test.ts fails when the files and this script disagree.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const [publisher, type] = (JSON.parse(readFileSync(`${root}HandlerManifest.json`, 'utf8')) as { name: string }[])[0]!.name
  .match(/^(.*)\.([^.]+)$/)!
  .slice(1) as [string, string];

export const COMPUTE_API = '2024-11-01';
export const DEPLOYMENTS_API = '2024-11-01';
export const EXTENSION_NAME = 'CvmAttest';
/** Built-in role definitions (ids are the same in every tenant and cloud). */
export const ROLES = {
  virtualMachineContributor: '9980e02c-c2be-4d73-94e8-173b1dc7cf3c',
  managedIdentityOperator: 'f1a07417-d97a-45cb-824c-7a7467783830',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
} as const;
/** Built-in "Assign Built-In User-Assigned Managed Identity to Virtual Machines / Virtual Machine Scale Sets". */
export const BUILTIN_ASSIGN_UAI = { vm: 'd367bd60-64ca-4364-98ea-276775bddd94', vmss: '516187d4-ef64-4a1b-ad6b-a7348502976c' } as const;

const SCHEMA = 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#';
const PARAMS_SCHEMA = 'https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#';
const DEFAULT_SETTINGS = { intervalMinutes: 60, statusOnFailure: 'error' };
const vmId = "resourceId('Microsoft.Compute/virtualMachines', parameters('vmName'))";

// Parameters every template shares (the extension resource's knobs).
const extParams = {
  typeHandlerVersion: { type: 'string', defaultValue: '0.1', metadata: { description: 'Extension version (major.minor).' } },
  autoUpgradeMinorVersion: {
    type: 'bool',
    defaultValue: true,
    metadata: { description: 'Take new minor versions when the VM is redeployed or the extension updated.' },
  },
  forceUpdateTag: { type: 'string', defaultValue: '', metadata: { description: 'Change it to re-run enable with the same settings.' } },
  settings: {
    type: 'object',
    defaultValue: DEFAULT_SETTINGS,
    metadata: {
      description:
        'Public settings (extension/settings.schema.json). settings.sinks is taken from the Azure Monitor deployment when monitorDeploymentName is given.',
    },
  },
  protectedSettings: {
    type: 'secureObject',
    defaultValue: {},
    metadata: { description: 'Protected settings (extension/protected-settings.schema.json): encrypted for the VM, never shown by ARM.' },
  },
  monitorDeploymentName: {
    type: 'string',
    defaultValue: '',
    metadata: {
      description:
        'Name of the deployment of extension/azure/azuredeploy.json in this resource group: its sinksSettings output (endpoint, DCR, streams, the ingest identity) becomes settings.sinks. Empty: settings are used as given.',
    },
  },
};
// settings, with settings.sinks replaced by the Azure Monitor deployment's output when named.
const effectiveSettings = `[if(empty(parameters('monitorDeploymentName')), parameters('settings'), union(parameters('settings'), createObject('sinks', reference(resourceId('Microsoft.Resources/deployments', parameters('monitorDeploymentName')), '${DEPLOYMENTS_API}').outputs.sinksSettings.value)))]`;

const extProperties = (settings: string, protectedSettings: string) => ({
  publisher,
  type,
  typeHandlerVersion: "[parameters('typeHandlerVersion')]",
  autoUpgradeMinorVersion: "[parameters('autoUpgradeMinorVersion')]",
  enableAutomaticUpgrade: false,
  forceUpdateTag: "[parameters('forceUpdateTag')]",
  suppressFailures: false,
  settings,
  protectedSettings,
});

// The VM extension as an inner template: the outer template passes the VM's own location, which a
// top-level resource cannot read (reference() is not allowed in a resource's location).
const innerVmTemplate = {
  $schema: SCHEMA,
  contentVersion: '1.0.0.0',
  parameters: {
    vmName: { type: 'string' },
    location: { type: 'string' },
    typeHandlerVersion: { type: 'string' },
    autoUpgradeMinorVersion: { type: 'bool' },
    forceUpdateTag: { type: 'string' },
    settings: { type: 'object' },
    protectedSettings: { type: 'secureObject' },
  },
  resources: [
    {
      type: 'Microsoft.Compute/virtualMachines/extensions',
      apiVersion: COMPUTE_API,
      name: `[format('{0}/{1}', parameters('vmName'), '${EXTENSION_NAME}')]`,
      location: "[parameters('location')]",
      properties: extProperties("[parameters('settings')]", "[parameters('protectedSettings')]"),
    },
  ],
  outputs: {
    extensionId: { type: 'string', value: `[resourceId('Microsoft.Compute/virtualMachines/extensions', parameters('vmName'), '${EXTENSION_NAME}')]` },
  },
};
const nestedParams = (vmName: string, location: string) => ({
  vmName: { value: vmName },
  location: { value: location },
  typeHandlerVersion: { value: "[parameters('typeHandlerVersion')]" },
  autoUpgradeMinorVersion: { value: "[parameters('autoUpgradeMinorVersion')]" },
  forceUpdateTag: { value: "[parameters('forceUpdateTag')]" },
  settings: { value: effectiveSettings },
  protectedSettings: { value: "[parameters('protectedSettings')]" },
});

const single = {
  $schema: SCHEMA,
  contentVersion: '1.0.0.0',
  metadata: {
    description:
      "Deploys the cvm-attest VM extension to an existing Linux Confidential VM (AMD SEV-SNP), in the VM's own region. With monitorDeploymentName, settings.sinks comes from the outputs of extension/azure/azuredeploy.json deployed before (attach its user-assigned identity to the VM first).",
  },
  parameters: {
    vmName: { type: 'string', metadata: { description: 'Name of the existing VM in this resource group.' } },
    location: { type: 'string', defaultValue: '', metadata: { description: "The VM's region; empty (the default) reads it from the VM." } },
    ...extParams,
  },
  resources: [
    {
      type: 'Microsoft.Resources/deployments',
      apiVersion: DEPLOYMENTS_API,
      name: "[format('cvm-attest-{0}', parameters('vmName'))]",
      properties: {
        mode: 'Incremental',
        expressionEvaluationOptions: { scope: 'Inner' },
        parameters: nestedParams(
          "[parameters('vmName')]",
          `[if(empty(parameters('location')), reference(${vmId}, '${COMPUTE_API}', 'Full').location, parameters('location'))]`,
        ),
        template: innerVmTemplate,
      },
    },
  ],
  outputs: {
    extensionId: { type: 'string', value: `[resourceId('Microsoft.Compute/virtualMachines/extensions', parameters('vmName'), '${EXTENSION_NAME}')]` },
  },
};

const vmNameAt = "parameters('vmNames')[copyIndex()]";
const multi = {
  $schema: SCHEMA,
  contentVersion: '1.0.0.0',
  metadata: {
    description:
      'Deploys the cvm-attest VM extension to several existing Linux Confidential VMs of this resource group (a copy loop over vmNames; each VM in its own region). For a whole subscription use the Azure Policy in extension/policy/ instead.',
  },
  parameters: {
    vmNames: {
      type: 'array',
      minLength: 1,
      maxLength: 800,
      metadata: { description: 'Names of existing VMs in this resource group (at most 800: the copy loop limit).' },
    },
    batchSize: { type: 'int', defaultValue: 20, minValue: 1, maxValue: 800, metadata: { description: 'VMs deployed in parallel (serial copy mode).' } },
    ...extParams,
  },
  resources: [
    {
      type: 'Microsoft.Resources/deployments',
      apiVersion: DEPLOYMENTS_API,
      name: `[format('cvm-attest-{0}', ${vmNameAt})]`,
      copy: { name: 'vms', count: "[length(parameters('vmNames'))]", mode: 'Serial', batchSize: "[parameters('batchSize')]" },
      properties: {
        mode: 'Incremental',
        expressionEvaluationOptions: { scope: 'Inner' },
        parameters: nestedParams(
          `[${vmNameAt}]`,
          `[reference(resourceId('Microsoft.Compute/virtualMachines', ${vmNameAt}), '${COMPUTE_API}', 'Full').location]`,
        ),
        template: innerVmTemplate,
      },
    },
  ],
  outputs: {
    extensionIds: {
      type: 'array',
      copy: {
        count: "[length(parameters('vmNames'))]",
        input: `[resourceId('Microsoft.Compute/virtualMachines/extensions', parameters('vmNames')[copyIndex()], '${EXTENSION_NAME}')]`,
      },
    },
  },
};

const vmss = {
  $schema: SCHEMA,
  contentVersion: '1.0.0.0',
  metadata: {
    description:
      'Adds the cvm-attest extension to the model of an existing Linux Confidential VM scale set (Uniform or Flexible orchestration). Upgrade policy: Automatic and Rolling scale sets apply the new model to their instances; with Manual, run az vmss update-instances --instance-ids "*" (Uniform) or reimage/update each VM (Flexible). New instances always get it.',
  },
  parameters: {
    vmssName: { type: 'string', metadata: { description: 'Name of the existing scale set in this resource group.' } },
    ...extParams,
  },
  resources: [
    {
      type: 'Microsoft.Compute/virtualMachineScaleSets/extensions',
      apiVersion: COMPUTE_API,
      name: `[format('{0}/{1}', parameters('vmssName'), '${EXTENSION_NAME}')]`,
      properties: extProperties(effectiveSettings, "[parameters('protectedSettings')]"),
    },
  ],
  outputs: {
    extensionId: { type: 'string', value: `[resourceId('Microsoft.Compute/virtualMachineScaleSets/extensions', parameters('vmssName'), '${EXTENSION_NAME}')]` },
    // A Flexible scale set may have no upgrade policy.
    upgradePolicy: {
      type: 'string',
      value: `[if(contains(reference(resourceId('Microsoft.Compute/virtualMachineScaleSets', parameters('vmssName')), '${COMPUTE_API}'), 'upgradePolicy'), reference(resourceId('Microsoft.Compute/virtualMachineScaleSets', parameters('vmssName')), '${COMPUTE_API}').upgradePolicy.mode, 'none')]`,
    },
  },
};

const parameters = {
  $schema: PARAMS_SCHEMA,
  contentVersion: '1.0.0.0',
  parameters: {
    vmName: { value: 'cvm-01' },
    monitorDeploymentName: { value: 'cvm-attest-monitor' },
    settings: {
      value: {
        intervalMinutes: 60,
        jitterPercent: 10,
        freshness: true,
        minimumTcb: { bootloader: 10, tee: 0, snp: 23, microcode: 84 },
        statusOnFailure: 'error',
      },
    },
    protectedSettings: { value: { policy: { allowDebug: false, maxVmpl: 0, crl: 'warn' } } },
  },
};

// ---- Azure Policy ----
// statusOnFailure and provisioningState: with statusOnFailure "error" a VM failing attestation
// reports status error, which the platform records as the extension's provisioningState Failed.
// An existence condition on provisioningState Succeeded would then call that VM non-compliant and
// every remediation would redeploy the extension, fail again and stay non-compliant: remediation
// forever. The DeployIfNotExists policies therefore deploy with statusOnFailure forced to
// "warning" (provisioningState stays Succeeded, the verdict still reaches Azure Monitor and the
// instance view), so Failed means what remediation can fix: an install or configuration failure.
// The AuditIfNotExists policy reports missing and Failed extensions, without deploying anything.
const policySettings = "[union(parameters('settings'), createObject('statusOnFailure', 'warning'))]";
const effectParam = (values: string[], def: string) => ({
  type: 'String',
  allowedValues: values,
  defaultValue: def,
  metadata: {
    displayName: 'Effect',
    description:
      'DeployIfNotExists installs the extension where missing (remediation tasks for existing VMs); AuditIfNotExists only reports; Disabled turns the policy off.',
  },
});
const policyParams = {
  effect: effectParam(['DeployIfNotExists', 'AuditIfNotExists', 'Disabled'], 'DeployIfNotExists'),
  typeHandlerVersion: {
    type: 'String',
    defaultValue: '0.1',
    metadata: { displayName: 'Extension version', description: 'typeHandlerVersion (major.minor); minor versions upgrade automatically.' },
  },
  settings: {
    type: 'Object',
    defaultValue: DEFAULT_SETTINGS,
    metadata: {
      displayName: 'Public settings',
      description:
        'extension/settings.schema.json, with sinks from the outputs of extension/azure/azuredeploy.json. statusOnFailure is forced to "warning" (see docs/fleet.md).',
    },
  },
  protectedSettings: {
    type: 'Object',
    defaultValue: {},
    metadata: {
      displayName: 'Protected settings',
      description:
        'extension/protected-settings.schema.json. Encrypted for the VM once deployed, but readable by anyone who can read the policy assignment: put no secret here.',
    },
  },
};
const cvmLinux = (prefix: string) => [
  { field: `${prefix}securityProfile.securityType`, equals: 'ConfidentialVM' },
  { field: `${prefix}securityProfile.uefiSettings.vTpmEnabled`, equals: 'true' },
  { field: `${prefix}storageProfile.osDisk.osType`, equals: 'Linux' },
];
const existence = (t: string) => ({
  allOf: [
    { field: `${t}/publisher`, equals: publisher },
    { field: `${t}/type`, equals: type },
    { field: `${t}/provisioningState`, equals: 'Succeeded' },
  ],
});
// A scale set's extension has no location of its own: only the VM template takes one.
const withLocation = (nameParam: string) => nameParam === 'vmName';
const policyTemplate = (resource: Record<string, unknown>, nameParam: string) => ({
  $schema: SCHEMA,
  contentVersion: '1.0.0.0',
  parameters: {
    [nameParam]: { type: 'string' },
    ...(withLocation(nameParam) ? { location: { type: 'string' } } : {}),
    typeHandlerVersion: { type: 'string' },
    settings: { type: 'object' },
    protectedSettings: { type: 'secureObject' },
  },
  resources: [resource],
});
const policyExtProps = {
  publisher,
  type,
  typeHandlerVersion: "[parameters('typeHandlerVersion')]",
  autoUpgradeMinorVersion: true,
  enableAutomaticUpgrade: false,
  suppressFailures: false,
  settings: "[parameters('settings')]",
  protectedSettings: "[parameters('protectedSettings')]",
};
const deployment = (resource: Record<string, unknown>, nameParam: string) => ({
  properties: {
    mode: 'incremental',
    template: policyTemplate(resource, nameParam),
    parameters: {
      [nameParam]: { value: "[field('name')]" },
      ...(withLocation(nameParam) ? { location: { value: "[field('location')]" } } : {}),
      typeHandlerVersion: { value: "[parameters('typeHandlerVersion')]" },
      settings: { value: policySettings },
      protectedSettings: { value: "[parameters('protectedSettings')]" },
    },
  },
});
const roleIds = [`/providers/Microsoft.Authorization/roleDefinitions/${ROLES.virtualMachineContributor}`];
const meta = { category: 'Security Center', version: '1.0.0' };

const dineVm = {
  properties: {
    displayName: 'Deploy the cvm-attest extension to Linux Confidential VMs',
    policyType: 'Custom',
    mode: 'Indexed',
    metadata: meta,
    description:
      'Installs the cvm-attest VM extension (local attestation of AMD SEV-SNP Confidential VMs) on Linux Confidential VMs with a vTPM that do not have it, or whose extension failed to provision. Deploys with statusOnFailure "warning" so that a VM failing attestation stays compliant instead of being remediated forever; failures are reported by Azure Monitor.',
    parameters: policyParams,
    policyRule: {
      if: { allOf: [{ field: 'type', equals: 'Microsoft.Compute/virtualMachines' }, ...cvmLinux('Microsoft.Compute/virtualMachines/')] },
      then: {
        effect: "[parameters('effect')]",
        details: {
          type: 'Microsoft.Compute/virtualMachines/extensions',
          roleDefinitionIds: roleIds,
          evaluationDelay: 'AfterProvisioning',
          existenceCondition: existence('Microsoft.Compute/virtualMachines/extensions'),
          deployment: deployment(
            {
              type: 'Microsoft.Compute/virtualMachines/extensions',
              apiVersion: COMPUTE_API,
              name: `[format('{0}/{1}', parameters('vmName'), '${EXTENSION_NAME}')]`,
              location: "[parameters('location')]",
              properties: policyExtProps,
            },
            'vmName',
          ),
        },
      },
    },
  },
};

const dineVmss = {
  properties: {
    displayName: 'Deploy the cvm-attest extension to Linux Confidential VM scale sets',
    policyType: 'Custom',
    mode: 'Indexed',
    metadata: meta,
    description:
      "Adds the cvm-attest VM extension to the model of Linux Confidential VM scale sets (Uniform and Flexible orchestration: no condition on orchestrationMode, which older Uniform scale sets do not set) that lack it. Instances follow the scale set's upgrade policy (Manual: update the instances). VMs of a Flexible scale set are also virtual machines: the VM policy sees the extension the scale set gave them.",
    parameters: policyParams,
    policyRule: {
      if: {
        allOf: [
          { field: 'type', equals: 'Microsoft.Compute/virtualMachineScaleSets' },
          ...cvmLinux('Microsoft.Compute/virtualMachineScaleSets/virtualMachineProfile.'),
        ],
      },
      then: {
        effect: "[parameters('effect')]",
        details: {
          type: 'Microsoft.Compute/virtualMachineScaleSets/extensions',
          roleDefinitionIds: roleIds,
          evaluationDelay: 'AfterProvisioning',
          existenceCondition: existence('Microsoft.Compute/virtualMachineScaleSets/extensions'),
          deployment: deployment(
            {
              type: 'Microsoft.Compute/virtualMachineScaleSets/extensions',
              apiVersion: COMPUTE_API,
              name: `[format('{0}/{1}', parameters('vmssName'), '${EXTENSION_NAME}')]`,
              properties: policyExtProps,
            },
            'vmssName',
          ),
        },
      },
    },
  },
};

const auditVm = {
  properties: {
    displayName: 'Audit Linux Confidential VMs without a working cvm-attest extension',
    policyType: 'Custom',
    mode: 'Indexed',
    metadata: meta,
    description:
      'Reports Linux Confidential VMs with a vTPM where the cvm-attest extension is missing or not in provisioningState Succeeded (install failure, or a failing attestation where statusOnFailure is "error").',
    parameters: { effect: effectParam(['AuditIfNotExists', 'Disabled'], 'AuditIfNotExists') },
    policyRule: {
      if: { allOf: [{ field: 'type', equals: 'Microsoft.Compute/virtualMachines' }, ...cvmLinux('Microsoft.Compute/virtualMachines/')] },
      then: {
        effect: "[parameters('effect')]",
        details: { type: 'Microsoft.Compute/virtualMachines/extensions', existenceCondition: existence('Microsoft.Compute/virtualMachines/extensions') },
      },
    },
  },
};

// Our definitions live in a subscription (the walkthrough creates them there): {subscriptionId} is
// replaced when the initiative is created (docs/fleet.md).
const custom = (name: string) => `/subscriptions/{subscriptionId}/providers/Microsoft.Authorization/policyDefinitions/${name}`;
const ref = (name: string) => `[parameters('${name}')]`;
const initiative = {
  properties: {
    displayName: 'cvm-attest: attest every Linux Confidential VM and report to Azure Monitor',
    policyType: 'Custom',
    metadata: meta,
    description:
      "Gives Linux Confidential VMs and scale sets the user-assigned ingest identity of extension/azure/azuredeploy.json (Microsoft's built-in identity policies) and the cvm-attest extension, and audits the VMs where it is missing or failed. Assign with a managed identity holding the roles its definitions list (Virtual Machine Contributor for ours; Contributor and User Access Administrator for Microsoft's identity policies) and create remediation tasks for existing resources.",
    parameters: {
      ...policyParams,
      effect: {
        ...policyParams.effect,
        metadata: { displayName: 'Effect (extension)', description: 'DeployIfNotExists, AuditIfNotExists or Disabled for the two extension policies.' },
      },
      identityName: {
        type: 'String',
        metadata: {
          displayName: 'Ingest identity name',
          description: 'Name of the user-assigned identity created by extension/azure/azuredeploy.json (identityName, default id-cvm-attest-ingest).',
        },
      },
      identityResourceGroup: {
        type: 'String',
        metadata: { displayName: 'Ingest identity resource group', description: "Its resource group (in the assignment's subscription)." },
      },
    },
    policyDefinitionGroups: [
      { name: 'identity', displayName: 'Ingest identity on the VMs' },
      { name: 'extension', displayName: 'cvm-attest extension' },
    ],
    policyDefinitions: [
      {
        policyDefinitionReferenceId: 'assignIdentityVm',
        groupNames: ['identity'],
        policyDefinitionId: `/providers/Microsoft.Authorization/policyDefinitions/${BUILTIN_ASSIGN_UAI.vm}`,
        parameters: {
          bringYourOwnUserAssignedManagedIdentity: { value: true },
          userAssignedIdentityName: { value: ref('identityName') },
          identityResourceGroup: { value: ref('identityResourceGroup') },
        },
      },
      {
        policyDefinitionReferenceId: 'assignIdentityVmss',
        groupNames: ['identity'],
        policyDefinitionId: `/providers/Microsoft.Authorization/policyDefinitions/${BUILTIN_ASSIGN_UAI.vmss}`,
        parameters: {
          bringYourOwnUserAssignedManagedIdentity: { value: true },
          userAssignedIdentityName: { value: ref('identityName') },
          identityResourceGroup: { value: ref('identityResourceGroup') },
        },
      },
      ...(['deployVm', 'deployVmss'] as const).map((id) => ({
        policyDefinitionReferenceId: id,
        groupNames: ['extension'],
        policyDefinitionId: custom(id === 'deployVm' ? 'cvm-attest-deploy-vm' : 'cvm-attest-deploy-vmss'),
        parameters: {
          effect: { value: ref('effect') },
          typeHandlerVersion: { value: ref('typeHandlerVersion') },
          settings: { value: ref('settings') },
          protectedSettings: { value: ref('protectedSettings') },
        },
      })),
      { policyDefinitionReferenceId: 'auditVm', groupNames: ['extension'], policyDefinitionId: custom('cvm-attest-audit-vm'), parameters: {} },
    ],
  },
};

export function build(): Record<string, unknown> {
  return {
    'extension/arm/azuredeploy.json': single,
    'extension/arm/azuredeploy.parameters.json': parameters,
    'extension/arm/azuredeploy-multi.json': multi,
    'extension/arm/azuredeploy-vmss.json': vmss,
    'extension/policy/cvm-attest-deploy-vm.json': dineVm,
    'extension/policy/cvm-attest-deploy-vmss.json': dineVmss,
    'extension/policy/cvm-attest-audit-vm.json': auditVm,
    'extension/policy/cvm-attest-initiative.json': initiative,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [path, value] of Object.entries(build())) writeFileSync(`${root}${path}`, JSON.stringify(value, null, 2) + '\n');
}
