# azd postdeploy (Windows): the lifecycle function's key exists only once the code is deployed.
# Read it, set LIFECYCLE_NOTIFICATION_URL on the app, and keep it in the azd environment so that a
# later `azd provision` writes it again (infra/main.parameters.json). The key is never printed.
$ErrorActionPreference = 'Stop'

if (-not $env:AZURE_RESOURCE_GROUP -or -not $env:AZURE_FUNCTION_NAME) {
  throw 'run through azd (azd up / azd deploy)'
}

$hostName = az functionapp show -g $env:AZURE_RESOURCE_GROUP -n $env:AZURE_FUNCTION_NAME `
  --query defaultHostName -o tsv
$key = az functionapp function keys list -g $env:AZURE_RESOURCE_GROUP -n $env:AZURE_FUNCTION_NAME `
  --function-name lifecycleNotifications --query default -o tsv
if (-not $key) {
  throw "the lifecycleNotifications function has no default key yet; run 'azd deploy' again"
}
$url = "https://$hostName/api/lifecycle?code=$key"

az functionapp config appsettings set -g $env:AZURE_RESOURCE_GROUP -n $env:AZURE_FUNCTION_NAME `
  --settings "LIFECYCLE_NOTIFICATION_URL=$url" --output none
if ($LASTEXITCODE -ne 0) { throw 'could not set LIFECYCLE_NOTIFICATION_URL' }
azd env set LIFECYCLE_NOTIFICATION_URL $url
Write-Host "postdeploy: LIFECYCLE_NOTIFICATION_URL set on $($env:AZURE_FUNCTION_NAME) (https://$hostName/api/lifecycle?code=...)"
