// The function app on Flex Consumption and every app setting it gets. All app settings are
// written in this file (tests read it: each one must be a setting the app reads or a platform
// setting, and each Graph credential must get what it needs).

param name string
param location string = resourceGroup().location
param tags object = {}
param appServicePlanId string
param applicationInsightsName string
param storageAccountName string
param deploymentStorageContainerName string
param identityId string
param identityClientId string
param keyVaultName string
@allowed([
  'managedIdentityFederation'
  'clientSecret'
  'clientCertificate'
  'managedIdentity'
])
param graphCredential string
param graphClientId string
param lifecycleNotificationUrl string = ''
param sweepSchedule string
param subscriptionsTable string
param resyncQueue string
param lifecycleQueue string
param instanceMemoryMB int = 2048

// NOTE: small on purpose. Graph allows 2,000 subscription writes per app in 20 seconds across
// all tenants, and the app's write pacer counts only its own process: every instance that runs
// the sweep or handles lifecycle events paces alone. The sweep timer runs on one instance at a
// time; lifecycle bursts are what scale the HTTP functions out, and more instances there mean
// more unpaced writes on the same app limit. 40 is the lowest limit the plan accepted when this
// was written; raise it only with the write settings (GRAPH_APP_WRITES_PER_20S) lowered to match.
param maximumInstanceCount int = 40

// NOTE: Graph gives the validation handshake 10 seconds and a lifecycle POST 3 seconds; a cold
// start can take longer. The timer's instance does not serve HTTP, so the `http` group keeps one
// instance of its own warm. Another trigger (a queue trigger, a second timer) needs no entry.
param alwaysReadyHttpInstances int = 1

resource stg 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Host storage over the managed identity (Azure's identity-based connection convention).
var hostStorageSettings = {
  AzureWebJobsStorage__blobServiceUri: stg.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: stg.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: stg.properties.primaryEndpoints.table
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
}

// The app's state: the subscriptions table, the resync queue and the lifecycle intake queue (the
// lifecycleIntake trigger binds to %LIFECYCLE_QUEUE% over STORAGE_CONNECTION), over the same identity.
var stateSettings = {
  STORAGE_CONNECTION__tableServiceUri: stg.properties.primaryEndpoints.table
  STORAGE_CONNECTION__queueServiceUri: stg.properties.primaryEndpoints.queue
  STORAGE_CONNECTION__credential: 'managedidentity'
  STORAGE_CONNECTION__clientId: identityClientId
  SUBSCRIPTIONS_TABLE: subscriptionsTable
  RESYNC_QUEUE: resyncQueue
  LIFECYCLE_QUEUE: lifecycleQueue
  SWEEP_SCHEDULE: sweepSchedule
}

// Key Vault references resolve through the user-assigned identity (keyVaultReferenceIdentity).
var keyVaultUri = 'https://${keyVaultName}${environment().suffixes.keyvaultDns}/'

var graphSettingsByCredential = {
  managedIdentityFederation: {
    GRAPH_CREDENTIAL: 'managedIdentityFederation'
    GRAPH_TENANT_ID: tenant().tenantId
    GRAPH_CLIENT_ID: graphClientId
    GRAPH_MANAGED_IDENTITY_CLIENT_ID: identityClientId
  }
  clientSecret: {
    GRAPH_CREDENTIAL: 'clientSecret'
    GRAPH_TENANT_ID: tenant().tenantId
    GRAPH_CLIENT_ID: graphClientId
    GRAPH_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/graph-client-secret/)'
  }
  clientCertificate: {
    GRAPH_CREDENTIAL: 'clientCertificate'
    GRAPH_TENANT_ID: tenant().tenantId
    GRAPH_CLIENT_ID: graphClientId
    // A Key Vault certificate created with content type application/x-pem-file: its secret is
    // the PEM of the certificate and its private key.
    GRAPH_CLIENT_CERTIFICATE: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/graph-client-certificate/)'
  }
  managedIdentity: {
    GRAPH_CREDENTIAL: 'managedIdentity'
    GRAPH_MANAGED_IDENTITY_CLIENT_ID: identityClientId
  }
}

var monitoringSettings = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

// Set by the postdeploy hook once the lifecycle function's key exists.
var lifecycleSettings = empty(lifecycleNotificationUrl)
  ? {}
  : {
      LIFECYCLE_NOTIFICATION_URL: lifecycleNotificationUrl
    }

var allAppSettings = union(
  hostStorageSettings,
  stateSettings,
  graphSettingsByCredential[graphCredential],
  monitoringSettings,
  lifecycleSettings
)

module api 'br/public:avm/res/web/site:0.15.1' = {
  name: 'functionApp'
  params: {
    kind: 'functionapp,linux'
    name: name
    location: location
    tags: union(tags, { 'azd-service-name': 'api' })
    serverFarmResourceId: appServicePlanId
    managedIdentities: {
      systemAssigned: false
      userAssignedResourceIds: [identityId]
    }
    keyVaultAccessIdentityResourceId: identityId
    httpsOnly: true
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${stg.properties.primaryEndpoints.blob}${deploymentStorageContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        alwaysReady: [
          {
            name: 'http'
            instanceCount: alwaysReadyHttpInstances
          }
        ]
      }
      runtime: {
        name: 'node'
        version: '24'
      }
    }
    siteConfig: {
      alwaysOn: false
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      // Anonymous and cheap (one point read): App Service's health check sends no function key.
      healthCheckPath: '/api/live'
    }
    appSettingsKeyValuePairs: allAppSettings
  }
}

output name string = api.outputs.name
output defaultHostName string = api.outputs.defaultHostname
