// What an operator is told about: alert rules on the app's Application Insights data, and a
// standard availability test on the cheap health route. The queries read the one-line log
// format of the app: `message {json}` (docs/deploy.md, "What an operator watches").
param location string = resourceGroup().location
param tags object = {}
param resourceToken string
param appInsightsName string
param functionAppHostName string
@description('Where alerts are mailed. Empty: no action group member; alerts show in the portal.')
param alertEmail string = ''

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-keeper-${resourceToken}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'keeper'
    enabled: true
    emailReceivers: empty(alertEmail)
      ? []
      : [
          {
            name: 'operator'
            emailAddress: alertEmail
            useCommonAlertSchema: true
          }
        ]
  }
}

// `sweep summary {json}`: one line per recorded sweep (shared/operations/sweepOperation.ts).
var summaries = 'traces | where message startswith "sweep summary " | extend s = parse_json(substring(message, strlen("sweep summary ")))'

var logAlerts = [
  {
    name: 'no-successful-sweep'
    description: 'No sweep finished without unexpected errors in the last 15 minutes: subscriptions are not being renewed.'
    severity: 1
    query: '${summaries} | where toint(s.unexpectedErrors) == 0'
    operator: 'LessThan'
    threshold: 1
  }
  {
    name: 'subscription-failed-or-lapsed'
    description: 'The last sweeps counted a failed or lapsed subscription (see the health view for which).'
    severity: 2
    query: '${summaries} | where toint(s.status_failed) > 0 or toint(s.lapsed) > 0'
    operator: 'GreaterThan'
    threshold: 0
  }
  {
    name: 'lifecycle-5xx-rate'
    description: 'More than 5% of lifecycle notification POSTs answered 5xx in 15 minutes (at least 5 calls): Graph may drop them.'
    severity: 2
    query: 'requests | where name == "lifecycleNotifications" | summarize total = count(), failed = countif(toint(resultCode) >= 500) | where total >= 5 and todouble(failed) / total > 0.05'
    operator: 'GreaterThan'
    threshold: 0
  }
]

resource rules 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [
  for rule in logAlerts: {
    name: 'keeper-${rule.name}-${resourceToken}'
    location: location
    tags: tags
    properties: {
      displayName: 'graph-subscription-keeper: ${rule.name}'
      description: rule.description
      severity: rule.severity
      enabled: true
      scopes: [applicationInsights.id]
      evaluationFrequency: 'PT5M'
      windowSize: 'PT15M'
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Count'
            operator: rule.operator
            threshold: rule.threshold
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      actions: {
        actionGroups: [actionGroup.id]
      }
    }
  }
]

// Standard test of the anonymous fleet summary (one point read): 503 when a subscription is not
// alive or the last sweep is old or unclean.
var webTestName = 'avail-keeper-health-${resourceToken}'

resource availability 'Microsoft.Insights/webtests@2022-06-15' = {
  name: webTestName
  location: location
  tags: union(tags, { 'hidden-link:${applicationInsights.id}': 'Resource' })
  kind: 'standard'
  properties: {
    SyntheticMonitorId: webTestName
    Name: 'graph-subscription-keeper health summary'
    Kind: 'standard'
    Enabled: true
    Frequency: 300
    Timeout: 30
    RetryEnabled: true
    Locations: [
      { Id: 'us-va-ash-azr' }
      { Id: 'emea-nl-ams-azr' }
      { Id: 'apac-sg-sin-azr' }
    ]
    Request: {
      RequestUrl: 'https://${functionAppHostName}/api/health/summary'
      HttpVerb: 'GET'
      ParseDependentRequests: false
    }
    ValidationRules: {
      ExpectedHttpStatusCode: 200
      SSLCheck: true
      SSLCertRemainingLifetimeCheck: 7
    }
  }
}

resource availabilityAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'keeper-availability-${resourceToken}'
  location: 'global'
  tags: tags
  properties: {
    description: 'The health summary failed from two or more locations.'
    severity: 1
    enabled: true
    scopes: [availability.id, applicationInsights.id]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria'
      webTestId: availability.id
      componentId: applicationInsights.id
      failedLocationCount: 2
    }
    actions: [
      { actionGroupId: actionGroup.id }
    ]
  }
}
