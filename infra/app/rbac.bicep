// Role assignments: exactly the data planes the app's code and the Functions host call, for the
// app's managed identity; optionally the person running azd, for the graph-subs CLI.
param storageAccountName string
param appInsightsName string
param keyVaultName string
param managedIdentityPrincipalId string
@description('Object id of a person who runs the graph-subs CLI against this state. Empty: none.')
param userPrincipalId string = ''

// Built-in role definition ids (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var roles = {
  // Host: the deployment package container (Flex Consumption) and the timer's singleton locks.
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // App: the resync queue (QueueClient: create, send). Host: queue-triggered functions.
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // App: the subscriptions table (TableClient: create table, read, write, delete rows).
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  // Application Insights ingestion with Entra authentication (disableLocalAuth).
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  // Key Vault references (a Graph client secret or certificate), read through the identity.
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  // Encryption certificates definitions name in this vault: the public part only, never a secret.
  keyVaultReader: '21090545-7ca7-4776-b22c-e363652d74d2'
}

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

var storageRolesOfApp = [
  roles.storageBlobDataOwner
  roles.storageQueueDataContributor
  roles.storageTableDataContributor
]

resource appStorageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in storageRolesOfApp: {
    name: guid(storageAccount.id, managedIdentityPrincipalId, role)
    scope: storageAccount
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
      principalId: managedIdentityPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource appInsightsRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, managedIdentityPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: managedIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource keyVaultRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyVault.id, managedIdentityPrincipalId, roles.keyVaultSecretsUser)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: managedIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Rich notifications: definitions may name an encryption certificate in this vault
// (docs/rich-notifications.md); the app reads its public part with this identity.
resource keyVaultCertificateRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyVault.id, managedIdentityPrincipalId, roles.keyVaultReader)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultReader)
    principalId: managedIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The CLI (graph-subs apply, list, sweep) reads and writes the same table and queue.
var storageRolesOfUser = [
  roles.storageQueueDataContributor
  roles.storageTableDataContributor
]

resource userStorageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in storageRolesOfUser: if (!empty(userPrincipalId)) {
    name: guid(storageAccount.id, userPrincipalId, role)
    scope: storageAccount
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
      principalId: userPrincipalId
      principalType: 'User'
    }
  }
]
