// Two alert rules on the Application Insights component:
//  - failed invocations: a timer or queue run that raised (function_app.py lets a failed run fail the
//    invocation after the per-app summary is logged), from the standard `requests/failed` metric;
//  - high-severity audit findings: the audit logs one line per open finding,
//      audit_finding control=<id> severity=<severity> status=<status> app=<app> resource=<resource>
//    (rotation/audit/run.py), which reaches the component's `traces` table; the log search below
//    counts the lines whose severity is critical or high.
param location string
param tags object
param baseName string
param insightsId string

@description('E-mail address notified by both alerts; empty = no action group.')
param alertEmail string = ''

// The query of the findings alert, also documented in docs/deploy.md.
var highFindingsQuery = '''
traces
| where message startswith "audit_finding "
| extend severity = extract(@"\bseverity=(\w+)", 1, message)
| where severity in ("critical", "high")
| summarize findings = count()
'''

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: 'ag-${baseName}'
  location: 'global'
  tags: tags
  properties: {
    enabled: true
    groupShortName: take('rot-${baseName}', 12)
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var actionGroupIds = empty(alertEmail) ? [] : [
  actionGroup.id
]

resource failedInvocations 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-${baseName}-failed-invocations'
  location: 'global'
  tags: tags
  properties: {
    description: 'A rotate, revoke, audit or per-app queue invocation failed: read its app_summary and job_failed lines in traces.'
    severity: 1
    enabled: true
    scopes: [
      insightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          name: 'failed-requests'
          criterionType: 'StaticThresholdCriterion'
          metricNamespace: 'microsoft.insights/components'
          metricName: 'requests/failed'
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Count'
        }
      ]
    }
    actions: [for id in actionGroupIds: {
      actionGroupId: id
    }]
  }
}

resource highFindings 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${baseName}-high-findings'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Audit: critical or high findings (${baseName})'
    description: 'The audit found open critical or high findings: open the run folder in the reports container (or /tmp/reports) and its report.html.'
    severity: 1
    enabled: true
    scopes: [
      insightsId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: highFindingsQuery
          timeAggregation: 'Total'
          metricMeasureColumn: 'findings'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

output failedInvocationsAlertId string = failedInvocations.id
output highFindingsAlertId string = highFindings.id
