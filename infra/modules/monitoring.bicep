// Log Analytics (Key Vault audit events, Function traces) and a workspace-based Application Insights
// component with local (instrumentation key) authentication off: telemetry is accepted only with an
// Entra ID token of an identity holding Monitoring Metrics Publisher on this component.
param location string
param tags object
param workspaceName string
param insightsName string
param retentionInDays int

@description('Principal id of the Function app identity (publishes telemetry).')
param publisherPrincipalId string

var monitoringMetricsPublisher = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '3913510d-42f4-4e42-8a64-420c390055eb')

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      enableLogAccessUsingOnlyResourcePermissions: true
    }
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: insightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

// Scope: this one component (not the resource group).
resource publisherRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, publisherPrincipalId, monitoringMetricsPublisher)
  scope: insights
  properties: {
    roleDefinitionId: monitoringMetricsPublisher
    principalId: publisherPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output workspaceId string = workspace.id
output insightsId string = insights.id
output insightsConnectionString string = insights.properties.ConnectionString
