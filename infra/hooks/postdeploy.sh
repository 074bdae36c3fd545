#!/bin/sh
# azd postdeploy: the lifecycle function's key exists only once the code is deployed. Read it,
# set LIFECYCLE_NOTIFICATION_URL on the app, and keep it in the azd environment so that a later
# `azd provision` writes it again (infra/main.parameters.json). The key is never printed.
set -eu

: "${AZURE_RESOURCE_GROUP:?run through azd (azd up / azd deploy)}"
: "${AZURE_FUNCTION_NAME:?run through azd (azd up / azd deploy)}"

host=$(az functionapp show -g "$AZURE_RESOURCE_GROUP" -n "$AZURE_FUNCTION_NAME" \
  --query defaultHostName -o tsv)
key=$(az functionapp function keys list -g "$AZURE_RESOURCE_GROUP" -n "$AZURE_FUNCTION_NAME" \
  --function-name lifecycleNotifications --query default -o tsv)
if [ -z "$key" ]; then
  echo "postdeploy: the lifecycleNotifications function has no default key yet; run 'azd deploy' again" >&2
  exit 1
fi
url="https://${host}/api/lifecycle?code=${key}"

az functionapp config appsettings set -g "$AZURE_RESOURCE_GROUP" -n "$AZURE_FUNCTION_NAME" \
  --settings "LIFECYCLE_NOTIFICATION_URL=${url}" --output none
azd env set LIFECYCLE_NOTIFICATION_URL "$url"
echo "postdeploy: LIFECYCLE_NOTIFICATION_URL set on ${AZURE_FUNCTION_NAME} (https://${host}/api/lifecycle?code=...)"
