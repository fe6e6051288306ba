// The vault the service keeps tokens in: Azure RBAC (no access policies), soft delete and purge
// protection (a deleted token version stays recoverable and cannot be purged early), every audit event
// to Log Analytics.
param location string
param tags object
param vaultName string
param workspaceId string

@description('Principal id of the Function app identity (mints, stages, promotes, deletes secrets).')
param appPrincipalId string

@description('Object id of the operator who bootstraps and imports; empty = none.')
param operatorPrincipalId string = ''
param operatorPrincipalType string = 'User'

var secretsOfficer = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7')

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  #checkov:skip=CKV_AZURE_109:The Flex Consumption app is not VNet-integrated here, so a default-deny firewall would lock it out; every request needs an Entra ID token and an RBAC role on this vault.
  #checkov:skip=CKV_AZURE_189:Public endpoint kept for the same reason (no VNet or private endpoint in this deployment).
  name: vaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        // AuditEvent (every secret read, write and delete) and the policy evaluation logs
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

// Key Vault Secrets Officer on this vault only (not the resource group or subscription).
resource appSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, secretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: secretsOfficer
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource operatorSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(vault.id, operatorPrincipalId, secretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: secretsOfficer
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

output vaultUri string = vault.properties.vaultUri
output vaultName string = vault.name
