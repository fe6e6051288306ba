// The whole deployment of the rotation service in one resource group:
//   az deployment group create -g <rg> -f infra/main.bicep -p @infra/main.parameters.json
// Least privilege: the Function app runs as a user-assigned identity that holds only data-plane roles,
// each on the narrowest scope Azure allows (the vault, the storage account, the two queues, the
// Application Insights component). No key, connection string with a key, or secret is in a template or
// parameter: storage, Key Vault and telemetry are reached with Microsoft Entra ID tokens.
targetScope = 'resourceGroup'

@description('Short lowercase name the resource names are derived from (letters and digits, 3-10 characters).')
@minLength(3)
@maxLength(10)
param baseName string = 'rotation'

@description('Azure region of every resource; Flex Consumption must be available there.')
param location string = resourceGroup().location

@description('Days each report blob version stays immutable (write once, read many) after it is written.')
@minValue(1)
@maxValue(3650)
param reportRetentionDays int = 400

@description('Days the Log Analytics workspace keeps logs (Key Vault audit events, Function traces).')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 90

@description('Object id of a person or group that runs `rotation bootstrap` and `rotation import` and downloads the reports (Key Vault Secrets Officer on the vault, Storage Blob Data Reader on the reports container); empty = none.')
param operatorPrincipalId string = ''

@description('principalType of operatorPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param operatorPrincipalType string = 'User'

@description('E-mail address the alerts go to; empty = the alerts fire without notifying anyone.')
param alertEmail string = ''

@description('Policy file or folder inside the deployed package (ROTATION_POLICIES).')
param policiesPath string = 'policies'

@description('Lowest audit finding severity that fails the audit run (ROTATION_FAIL_ON).')
@allowed([
  'critical'
  'high'
  'medium'
  'low'
  'info'
])
param failOn string = 'high'

@description('`inline` (small fleets) or `queue` (one queue message per application).')
@allowed([
  'inline'
  'queue'
])
param fanout string = 'inline'

@description('Applications handled at once (ROTATION_MAX_CONCURRENCY, 1-64; 16 measured: a worker is CPU-bound past it, see docs/deploy.md).')
@minValue(1)
@maxValue(64)
param maxConcurrency int = 16

@description('Client-side requests per second per application (ROTATION_RATE_LIMIT, IoT Central allows 20).')
@minValue(1)
@maxValue(19)
param rateLimit int = 15

@description('6-field NCRONTAB schedule of the rotate timer (default: rotation/hosting/schedules.py, checked by a test).')
param rotateSchedule string = '0 5 * * * *'

@description('6-field NCRONTAB schedule of the revoke timer.')
param revokeSchedule string = '0 35 * * * *'

@description('6-field NCRONTAB schedule of the audit timer.')
param auditSchedule string = '0 15 6 * * *'

@description('Maximum Flex Consumption instances (the fan-out queue scales out up to this).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

param tags object = {
  workload: 'iotc-token-rotation'
}

var base = toLower(baseName)
var suffix = uniqueString(subscription().id, resourceGroup().id, base)
var names = {
  identity: 'id-${base}-${suffix}'
  storage: take('st${base}${suffix}', 24)
  vault: take('kv-${base}-${suffix}', 24)
  workspace: 'log-${base}-${suffix}'
  insights: 'appi-${base}-${suffix}'
  plan: 'plan-${base}-${suffix}'
  site: 'func-${base}-${suffix}'
}
var queueName = 'rotation-apps'
var poisonQueueName = 'rotation-apps-poison'
var leaseContainerName = 'rotation-leases'
var reportsContainerName = 'reports'
var deploymentContainerName = 'app-package'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: names.identity
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: tags
    workspaceName: names.workspace
    insightsName: names.insights
    retentionInDays: logRetentionDays
    publisherPrincipalId: identity.properties.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: tags
    accountName: names.storage
    queueName: queueName
    poisonQueueName: poisonQueueName
    leaseContainerName: leaseContainerName
    reportsContainerName: reportsContainerName
    deploymentContainerName: deploymentContainerName
    reportRetentionDays: reportRetentionDays
    appPrincipalId: identity.properties.principalId
    operatorPrincipalId: operatorPrincipalId
    operatorPrincipalType: operatorPrincipalType
    workspaceId: monitoring.outputs.workspaceId
  }
}

module vault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    tags: tags
    vaultName: names.vault
    workspaceId: monitoring.outputs.workspaceId
    appPrincipalId: identity.properties.principalId
    operatorPrincipalId: operatorPrincipalId
    operatorPrincipalType: operatorPrincipalType
  }
}

// Deployed after the storage and vault modules (it reads their outputs), so the identity's roles exist
// before the app first starts.
module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    location: location
    tags: tags
    planName: names.plan
    siteName: names.site
    identityId: identity.id
    identityClientId: identity.properties.clientId
    storageAccountName: storage.outputs.accountName
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    deploymentContainerName: deploymentContainerName
    insightsConnectionString: monitoring.outputs.insightsConnectionString
    vaultUri: vault.outputs.vaultUri
    maximumInstanceCount: maximumInstanceCount
    settings: {
      policies: policiesPath
      failOn: failOn
      fanout: fanout
      maxConcurrency: string(maxConcurrency)
      rateLimit: string(rateLimit)
      rotateSchedule: rotateSchedule
      revokeSchedule: revokeSchedule
      auditSchedule: auditSchedule
      queue: queueName
      leaseContainer: leaseContainerName
      reportsContainer: reportsContainerName
    }
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: location
    tags: tags
    baseName: baseName
    insightsId: monitoring.outputs.insightsId
    alertEmail: alertEmail
  }
}

@description('Name of the Function app (publish to it, read its logs).')
output functionAppName string = functionApp.outputs.siteName

@description('Client id of the user-assigned managed identity (AZURE_CLIENT_ID).')
output identityClientId string = identity.properties.clientId

@description('Object (principal) id of the managed identity: the id `rotation bootstrap` registers in IoT Central.')
output identityPrincipalId string = identity.properties.principalId

@description('Tenant of the managed identity (IoT Central service-principal users need it).')
output identityTenantId string = identity.properties.tenantId

@description('Key Vault URI the service stores tokens in.')
output vaultUri string = vault.outputs.vaultUri

@description('Blob endpoint of the storage account that holds the reports container.')
output reportsAccountUrl string = storage.outputs.blobEndpoint
