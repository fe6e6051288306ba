// Flex Consumption plan and the Linux Python Function app. The app runs as the user-assigned identity:
// it reads its package from the deployment container, keeps host state in storage, and sends telemetry,
// all with Entra ID tokens. App settings: every setting the app reads (rotation/hosting/config.py,
// rotation/hosting/schedules.py, function_app.py), so a redeploy never leaves a stale one behind.
param location string
param tags object
param planName string
param siteName string

@description('Resource id of the user-assigned managed identity.')
param identityId string

@description('Client id of that identity (AZURE_CLIENT_ID, AzureWebJobsStorage__clientId).')
param identityClientId string
param storageAccountName string
param blobEndpoint string
param queueEndpoint string
param deploymentContainerName string
param insightsConnectionString string

@description('URI of the vault; policies name it as ${ROTATION_VAULT_URL} (docs/policy-example.yaml).')
param vaultUri string
param maximumInstanceCount int

@description('Instance memory of the Flex Consumption plan in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Rotation settings: policies, failOn, fanout, maxConcurrency, rateLimit, the three schedules, queue, leaseContainer, reportsContainer.')
param settings object

resource plan 'Microsoft.Web/serverfarms@2024-11-01' = {
  #checkov:skip=CKV_AZURE_225:Zone redundancy of Flex Consumption exists only in some regions and would make the template fail elsewhere; hourly timers that a missed run only delays (the next run catches up) do not need it.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-11-01' = {
  #checkov:skip=CKV_AZURE_222:The app has no HTTP trigger; its public endpoint serves only the deployment (SCM) site, which the GitHub workflow publishes to with an Entra ID token (basic publishing credentials are off below). Without VNet integration a disabled endpoint would block every deployment.
  #checkov:skip=CKV_AZURE_212:Flex Consumption scales from zero per execution (instance counts are set in functionAppConfig.scaleAndConcurrency); the App Service minimum-instance setting does not apply to it.
  #checkov:skip=CKV_AZURE_17:Incoming client certificates authenticate callers of HTTP triggers; this app has none (timer and queue triggers only).
  #checkov:skip=CKV_AZURE_213:A health check probes an HTTP path; this app has only timer and queue triggers and serves no HTTP route.
  name: siteName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      // Flex Consumption takes the runtime from functionAppConfig and rejects FUNCTIONS_WORKER_RUNTIME,
      // FUNCTIONS_EXTENSION_VERSION and WEBSITE_RUN_FROM_PACKAGE, so none of them is set.
      appSettings: [
        // host storage through the managed identity; no AzureWebJobsStorage connection string (it would hold a key)
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storageAccountName
        }
        {
          name: 'AzureWebJobsStorage__blobServiceUri'
          value: blobEndpoint
        }
        {
          name: 'AzureWebJobsStorage__queueServiceUri'
          value: queueEndpoint
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identityClientId
        }
        // telemetry: the connection string names the component; Entra ID auth because local auth is off
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: insightsConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identityClientId};Authorization=AAD'
        }
        {
          name: 'AZURE_CLIENT_ID'
          value: identityClientId
        }
        // referenced by the policies (`vault: ${ROTATION_VAULT_URL}`), resolved from the environment
        {
          name: 'ROTATION_VAULT_URL'
          value: vaultUri
        }
        {
          name: 'ROTATION_POLICIES'
          value: settings.policies
        }
        {
          name: 'ROTATION_REPORTS_DIR'
          value: '/tmp/reports'
        }
        // the worker's local copies only; the reports container keeps runs under its immutability policy
        {
          name: 'ROTATION_REPORTS_KEEP'
          value: '30d'
        }
        // local file locks only; in Azure the per-app locks are blob leases in the host storage
        {
          name: 'ROTATION_STATE_DIR'
          value: '/tmp/state'
        }
        {
          name: 'ROTATION_MAX_CONCURRENCY'
          value: settings.maxConcurrency
        }
        {
          name: 'ROTATION_RATE_LIMIT'
          value: settings.rateLimit
        }
        {
          name: 'ROTATION_HTTP_TIMEOUT'
          value: '15'
        }
        {
          name: 'ROTATION_FAIL_ON'
          value: settings.failOn
        }
        {
          name: 'ROTATION_REPORTS_ACCOUNT_URL'
          value: blobEndpoint
        }
        {
          name: 'ROTATION_REPORTS_CONTAINER'
          value: settings.reportsContainer
        }
        // local and Azurite only: empty in Azure, where the account URL and the identity are used
        {
          name: 'ROTATION_REPORTS_CONNECTION_STRING'
          value: ''
        }
        // sandbox only (a private CA, a shifted clock honoured only on loopback): empty in Azure
        {
          name: 'ROTATION_CA_BUNDLE'
          value: ''
        }
        {
          name: 'ROTATION_CLOCK_OFFSET'
          value: ''
        }
        {
          name: 'ROTATE_SCHEDULE'
          value: settings.rotateSchedule
        }
        {
          name: 'REVOKE_SCHEDULE'
          value: settings.revokeSchedule
        }
        {
          name: 'AUDIT_SCHEDULE'
          value: settings.auditSchedule
        }
        {
          name: 'ROTATION_FANOUT'
          value: settings.fanout
        }
        {
          name: 'ROTATION_QUEUE'
          value: settings.queue
        }
        {
          name: 'ROTATION_LEASE_CONTAINER'
          value: settings.leaseContainer
        }
        // DEBUG (redacted) only for a troubleshooting session: az functionapp config appsettings set
        {
          name: 'ROTATION_LOG_LEVEL'
          value: 'INFO'
        }
      ]
    }
  }
}

// Basic (user name and password) publishing is off: deployments authenticate with Entra ID.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-11-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-11-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output siteName string = site.name
output siteId string = site.id
