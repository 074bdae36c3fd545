// The fleet as pictures: an Azure Monitor workbook over the app's Application Insights
// (infra/workbook.json holds its content; the queries read the one-line log format).
param location string = resourceGroup().location
param tags object = {}
param appInsightsName string
param environmentName string

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource fleet 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, 'graph-subscription-keeper-fleet')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'graph-subscription-keeper fleet (${environmentName})'
    category: 'workbook'
    sourceId: applicationInsights.id
    serializedData: loadTextContent('../workbook.json')
  }
}
