#!/usr/bin/env bash
# Workflow EVENTS against the Tether demo server: start a workflow that publishes progress, status and result,
# then read them (one by one, waiting for a value, and all at once).
# Usage: ./commands_events.sh   (TETHER_DEMO_URL=http://host:port, STEPS=n to change the defaults)
set -euo pipefail
source "$(dirname "$0")/_lib.sh"
STEPS="${STEPS:-10}"

echo "==================================="
echo "WORKFLOW EVENTS"
echo "==================================="
check_server
WF_ID="$(unique_id events)"
echo "Workflow ID: ${WF_ID}"
echo ""

echo "📤 Step 1: start a workflow of ${STEPS} steps (returns at once; the workflow runs in the background)"
echo "   POST ${BASE_URL}/start-workflow-events/${WF_ID}/${STEPS}"
out="$(req POST "/start-workflow-events/${WF_ID}/${STEPS}")"
echo "$out"
expect "$out" "\"workflow_id\":\"${WF_ID}\"" "the workflow was started"
echo ""

echo "📊 Step 2: the progress event (this request waits up to 5s for a value to be published)"
out="$(req GET "/workflow-events/${WF_ID}/progress")"
echo "$out"
expect "$out" '"event_key":"progress"' "a progress value"
echo ""

echo "🏷  Step 3: the status event"
out="$(req GET "/workflow-events/${WF_ID}/status")"
echo "$out"
expect "$out" '"event_key":"status"' "a status value"
echo ""

echo "🏁 Step 4: the result event (published at the end: this request waits for it, up to 120s)"
out="$(req GET "/workflow-events/${WF_ID}/result?timeout=120")"
echo "$out"
expect "$out" "\"total_steps\":${STEPS}" "the final result"
echo ""

echo "📚 Step 5: all events at once (each key holds only its latest value)"
out="$(req GET "/workflow-events/${WF_ID}/all")"
echo "$out"
expect "$out" '"progress":100' "progress 100"
expect "$out" '"status":"completed"' "status completed"
echo ""

echo "==================================="
echo "✅ EVENTS DEMO COMPLETED"
echo "==================================="
echo "  • POST /start-workflow-events returns immediately"
echo "  • GET /workflow-events/ID/KEY waits (up to ?timeout=) until the event is published"
echo "  • Events keep only the latest value per key"
