// The Functions host storage account, reached only with Entra ID tokens (shared key access off):
// host state (azure-webjobs-*), the Flex deployment package, the fan-out queue and its poison queue,
// per-application lease blobs, and the audit reports (versioned, immutable for reportRetentionDays).
param location string
param tags object
param accountName string
param queueName string
param poisonQueueName string
param leaseContainerName string
param reportsContainerName string
param deploymentContainerName string
param reportRetentionDays int

@description('Principal id of the Function app identity.')
param appPrincipalId string

@description('Object id of the operator who downloads the reports (Storage Blob Data Reader on the reports container); empty = none.')
param operatorPrincipalId string = ''

@description('principalType of operatorPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param operatorPrincipalType string = 'User'

@description('Log Analytics workspace the storage audit logs go to.')
param workspaceId string

@description('Replication: geo-redundant by default, because the reports container is the audit evidence.')
@allowed([
  'Standard_GRS'
  'Standard_RAGRS'
  'Standard_GZRS'
  'Standard_RAGZRS'
])
param skuName string = 'Standard_GRS'

var blobDataOwner = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b')
var queueDataContributor = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '974c5e8b-45b9-4653-ba55-5f855dd0fb88')
var blobDataReader = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1')

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  #checkov:skip=CKV_AZURE_35:The Flex Consumption app is not VNet-integrated here, so a default-deny firewall would lock the app out of its own host storage; every request needs an Entra ID token (shared key off).
  #checkov:skip=CKV_AZURE_59:Public endpoint kept for the same reason (no VNet or private endpoint in this deployment); anonymous and shared-key access are both off.
  #checkov:skip=CKV_AZURE_43:The name is computed (take('st' + baseName + uniqueString(...), 24)); baseName is limited to 3-10 characters and lowercased, which checkov cannot evaluate.
  name: accountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
        }
        file: {
          enabled: true
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    // version-level immutability of the reports container requires versioning on the account
    isVersioningEnabled: true
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource leaseContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: leaseContainerName
  properties: {
    publicAccess: 'None'
  }
}

// Reports are written once (the audit uploads with overwrite=False); every blob version is WORM for
// reportRetentionDays through the container's default version-level time-based retention policy.
resource reportsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: reportsContainerName
  properties: {
    publicAccess: 'None'
    immutableStorageWithVersioning: {
      enabled: true
    }
  }
}

resource reportsRetention 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = {
  parent: reportsContainer
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: reportRetentionDays
    allowProtectedAppendWrites: false
  }
}

// Versioning is account-wide: previous versions outside the reports container (host state, leases,
// packages) are deleted after a week so they do not pile up.
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'expire-old-versions-outside-reports'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
                'appendBlob'
              ]
              prefixMatch: [
                'azure-webjobs-hosts/'
                'azure-webjobs-secrets/'
                '${leaseContainerName}/'
                '${deploymentContainerName}/'
              ]
            }
            actions: {
              version: {
                delete: {
                  daysAfterCreationGreaterThan: 7
                }
              }
            }
          }
        }
      ]
    }
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource queue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: queueName
}

// Made here rather than by the Functions runtime on the first poisoned message, so that the queue role
// below can be scoped to it and the audit can read it from day one.
resource poisonQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: poisonQueueName
}

resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: blobService
  properties: {
    workspaceId: workspaceId
    logs: [
      // writes and deletes; reads are left out (the host polls its queues every few seconds)
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
  }
}

resource queueDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: queueService
  properties: {
    workspaceId: workspaceId
    logs: [
      // writes and deletes; reads are left out (the host polls its queues every few seconds)
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
  }
}

// Storage Blob Data Owner on the account: the Functions host creates and leases blobs in containers it
// makes itself at run time (azure-webjobs-hosts, azure-webjobs-secrets), Flex reads its package from
// the deployment container, and the lease blobs need lease rights; a container scope cannot cover
// containers that do not exist yet.
resource blobOwnerRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, appPrincipalId, blobDataOwner)
  scope: account
  properties: {
    roleDefinitionId: blobDataOwner
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Queue Data Contributor on the two queues only (not the account): enqueue, dequeue, poison.
resource queueRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, appPrincipalId, queueDataContributor)
  scope: queue
  properties: {
    roleDefinitionId: queueDataContributor
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource poisonQueueRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(poisonQueue.id, appPrincipalId, queueDataContributor)
  scope: poisonQueue
  properties: {
    roleDefinitionId: queueDataContributor
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Blob Data Reader on the reports container only: the operator downloads runs (docs/deploy.md
// "Where reports land") and can neither write nor read the host state, the leases or the package.
resource operatorReportsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(reportsContainer.id, operatorPrincipalId, blobDataReader)
  scope: reportsContainer
  properties: {
    roleDefinitionId: blobDataReader
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

output accountName string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
