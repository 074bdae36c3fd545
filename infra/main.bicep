targetScope = 'subscription'

// graph-subscription-keeper on Azure Functions Flex Consumption, for `azd up`.
// The shape follows Microsoft's functions-quickstart-typescript-azd template (AVM modules for the
// plan, storage, identity and monitoring; one app module; one role-assignment module); what this
// app adds is in modules of its own: Key Vault, the Graph app registration, alerts and a workbook.
// docs/deploy.md describes every resource and setting.

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used for a short unique suffix of every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource. It must offer Flex Consumption: az functionapp list-flexconsumption-locations')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the person running azd; gets read access to the state for troubleshooting. Empty: none.')
param principalId string = ''

@description('How the app gets Graph tokens. managedIdentityFederation (default): the managed identity is a federated credential of a multi-tenant app registration created here. clientSecret or clientCertificate: an app registration of yours, its secret or PEM certificate in the Key Vault. managedIdentity: the managed identity itself, home tenant only.')
@allowed([
  'managedIdentityFederation'
  'clientSecret'
  'clientCertificate'
  'managedIdentity'
])
param graphCredential string = 'managedIdentityFederation'

@description('With clientSecret or clientCertificate: the client id of your app registration.')
param graphClientId string = ''

@description('Graph application permissions (app roles) the app registration gets in this tenant, comma separated, e.g. "Mail.Read,Group.Read.All": those the managed resources need (graph-subs permissions lists them). Other tenants consent by hand (docs/deploy.md).')
param graphAppRoles string = ''

@description('Set by the postdeploy hook (azd env); kept here so that a later provision writes it again.')
param lifecycleNotificationUrl string = ''

@description('Where alerts are mailed. Empty: the alert rules fire into the portal only.')
param alertEmail string = ''

param sweepSchedule string = '0 */5 * * * *'
param subscriptionsTable string = 'subscriptions'
param resyncQueue string = 'subscription-resync'
param lifecycleQueue string = 'lifecycle-intake'

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = '${abbrs.webSitesFunctions}keeper-${resourceToken}'
var deploymentStorageContainerName = 'app-package-${take(functionAppName, 32)}-${take(toLower(uniqueString(functionAppName, resourceToken)), 7)}'
var graphAppRoleList = empty(graphAppRoles) ? [] : map(split(graphAppRoles, ','), r => trim(r))

resource rg 'Microsoft.Resources/resourceGroups@2021-04-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

// One user-assigned identity for storage (host and state), Key Vault, Application Insights
// ingestion and, as a federated credential, Graph.
module appIdentity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'appIdentity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}keeper-${resourceToken}'
    location: location
    tags: tags
  }
}

module appServicePlan 'br/public:avm/res/web/serverfarm:0.1.1' = {
  name: 'appServicePlan'
  scope: rg
  params: {
    name: '${abbrs.webServerFarms}${resourceToken}'
    sku: {
      name: 'FC1'
      tier: 'FlexConsumption'
    }
    reserved: true
    location: location
    tags: tags
  }
}

// Host storage (blob: deployment package and timer locks; queue and table: host internals) and
// the app's own state (the subscriptions table and the resync queue) in one account, reached
// only with Entra identities: shared keys are off.
module storage 'br/public:avm/res/storage/storage-account:0.8.3' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    dnsEndpointType: 'Standard'
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    blobServices: {
      containers: [{ name: deploymentStorageContainerName }]
    }
    minimumTlsVersion: 'TLS1_2'
    location: location
    tags: tags
  }
}

module logAnalytics 'br/public:avm/res/operational-insights/workspace:0.11.1' = {
  name: 'logAnalytics'
  scope: rg
  params: {
    name: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    location: location
    tags: tags
    dataRetention: 30
  }
}

// Entra-authenticated ingestion only (disableLocalAuth): the app sends with its managed identity
// (APPLICATIONINSIGHTS_AUTHENTICATION_STRING) and the Monitoring Metrics Publisher role.
module monitoring 'br/public:avm/res/insights/component:0.6.0' = {
  name: 'appInsights'
  scope: rg
  params: {
    name: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    workspaceResourceId: logAnalytics.outputs.resourceId
    disableLocalAuth: true
  }
}

module keyVault 'app/keyVault.bicep' = {
  name: 'keyVault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
  }
}

// The Graph side: a multi-tenant app registration trusting the managed identity, with the app
// roles asked for. Only for the default credential; the other choices bring their own.
module graphApp 'app/graphApp.bicep' = if (graphCredential == 'managedIdentityFederation') {
  name: 'graphApp'
  scope: rg
  params: {
    uniqueName: 'graph-subscription-keeper-${resourceToken}'
    displayName: 'graph-subscription-keeper (${environmentName})'
    managedIdentityPrincipalId: appIdentity.outputs.principalId
    appRoles: graphAppRoleList
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    location: location
    tags: tags
    appServicePlanId: appServicePlan.outputs.resourceId
    applicationInsightsName: monitoring.outputs.name
    storageAccountName: storage.outputs.name
    deploymentStorageContainerName: deploymentStorageContainerName
    identityId: appIdentity.outputs.resourceId
    identityClientId: appIdentity.outputs.clientId
    keyVaultName: keyVault.outputs.name
    graphCredential: graphCredential
    graphClientId: graphCredential == 'managedIdentityFederation' ? graphApp!.outputs.appId : graphClientId
    lifecycleNotificationUrl: lifecycleNotificationUrl
    sweepSchedule: sweepSchedule
    subscriptionsTable: subscriptionsTable
    resyncQueue: resyncQueue
    lifecycleQueue: lifecycleQueue
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    appInsightsName: monitoring.outputs.name
    keyVaultName: keyVault.outputs.name
    managedIdentityPrincipalId: appIdentity.outputs.principalId
    userPrincipalId: principalId
  }
}

module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    appInsightsName: monitoring.outputs.name
    functionAppHostName: api.outputs.defaultHostName
    alertEmail: alertEmail
  }
}

module workbook 'app/workbook.bicep' = {
  name: 'workbook'
  scope: rg
  params: {
    location: location
    tags: tags
    appInsightsName: monitoring.outputs.name
    environmentName: environmentName
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output GRAPH_CLIENT_ID string = graphCredential == 'managedIdentityFederation' ? graphApp!.outputs.appId : graphClientId
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.connectionString
