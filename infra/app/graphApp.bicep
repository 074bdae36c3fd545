// The Graph side as code (Microsoft Graph Bicep extension): a multi-tenant app registration whose
// only credential is the app's user-assigned managed identity (a federated identity credential,
// no secret), its service principal in this tenant, and the Graph app roles asked for, granted
// here. Other tenants consent by hand (docs/deploy.md, one command).
// https://learn.microsoft.com/graph/templates/reference/overview
// https://learn.microsoft.com/entra/workload-id/workload-identity-federation-config-app-trust-managed-identity
extension microsoftGraphV1

param uniqueName string
param displayName string
param managedIdentityPrincipalId string
@description('Graph application permissions by name, e.g. Mail.Read.')
param appRoles array = []

var graphAppId = '00000003-0000-0000-c000-000000000000'

resource graph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: graphAppId
}

var graphRoleIds = [for role in appRoles: filter(graph.appRoles, r => r.value == role)[0].id]

resource app 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  signInAudience: 'AzureADMultipleOrgs'
  // Listed so that an admin consent in another tenant grants the same permissions.
  requiredResourceAccess: empty(appRoles)
    ? []
    : [
        {
          resourceAppId: graphAppId
          resourceAccess: [for id in graphRoleIds: { id: id, type: 'Role' }]
        }
      ]

  resource managedIdentityTrust 'federatedIdentityCredentials@v1.0' = {
    name: '${uniqueName}/managed-identity'
    description: 'The function app\'s user-assigned managed identity'
    issuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
    subject: managedIdentityPrincipalId
    audiences: ['api://AzureADTokenExchange']
  }
}

resource appPrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: app.appId
}

resource grants 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [
  for (role, i) in appRoles: {
    appRoleId: graphRoleIds[i]
    principalId: appPrincipal.id
    resourceId: graph.id
  }
]

output appId string = app.appId
