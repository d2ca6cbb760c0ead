#!/usr/bin/env bash
# Workflow MESSAGING against the Tether demo server: workflows wait for an approval message; one is approved,
# one rejected, and one left waiting (its recv times out after 60s unless you approve it).
# Usage: ./commands_messaging.sh   (TETHER_DEMO_URL=http://host:port, STEPS=n to change the defaults)
set -euo pipefail
source "$(dirname "$0")/_lib.sh"
STEPS="${STEPS:-5}"

echo "==================================="
echo "WORKFLOW MESSAGING"
echo "==================================="
check_server
WF_ID="$(unique_id approve)"
echo "Workflow ID: ${WF_ID}"
echo ""

echo "📤 Step 1: start a workflow that waits for approval"
out="$(req POST "/start-workflow-messaging/${WF_ID}/${STEPS}")"
echo "$out"
expect "$out" "\"send_approval\":\"/send-message/${WF_ID}\"" "the workflow was started"
out="$(req GET "/workflow-events/${WF_ID}/status?timeout=30")"
echo "$out"
expect "$out" '"value":"waiting_for_approval"' "the workflow waits in recv()"
echo ""

echo "✉️  Step 2: send the approval (queued in the database; the request returns at once)"
out="$(req POST "/send-message/${WF_ID}" '{"approved": true, "message": "Approved by test script"}')"
echo "$out"
expect "$out" '"message":"Notification sent to workflow"' "the message was sent"
echo ""

echo "⏳ Step 3: wait for the approved workflow to finish (up to 120s)"
out="$(req GET "/api/workflows/${WF_ID}/result?timeout=120")"
echo "$out"
expect "$out" '"status":"SUCCESS"' "the workflow succeeded"
expect "$out" '"output":{"status":"completed"' "it ran its steps after the approval"
echo ""

WF_REJECT="$(unique_id reject)"
echo "🚫 Step 4: start ${WF_REJECT} and reject it"
req POST "/start-workflow-messaging/${WF_REJECT}/${STEPS}" >/dev/null
out="$(req POST "/send-message/${WF_REJECT}" '{"approved": false, "reason": "Rejected by test"}')"
echo "$out"
out="$(req GET "/api/workflows/${WF_REJECT}/result?timeout=120")"
echo "$out"
expect "$out" '"output":{"status":"rejected"' "the rejected workflow ended, reporting the rejection"
echo ""

WF_WAIT="$(unique_id waiting)"
echo "⏱  Step 5: start ${WF_WAIT} and send nothing: it times out after 60s"
req POST "/start-workflow-messaging/${WF_WAIT}/${STEPS}" >/dev/null
out="$(req GET "/workflow-events/${WF_WAIT}/status?timeout=30")"
expect "$out" '"value":"waiting_for_approval"' "it is waiting"
echo "   Approve it yourself: curl -X POST -H 'Content-Type: application/json' \\"
echo "     -d '{\"approved\": true}' ${BASE_URL}/send-message/${WF_WAIT}"
echo ""

echo "==================================="
echo "✅ MESSAGING DEMO COMPLETED"
echo "==================================="
echo "  • ${WF_ID}: approved   • ${WF_REJECT}: rejected   • ${WF_WAIT}: waiting"
echo "  • Messages are stored durably: one sent before the workflow waits is not lost"
