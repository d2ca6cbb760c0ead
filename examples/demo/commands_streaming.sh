#!/usr/bin/env bash
# Workflow STREAMING against the Tether demo server: poll a snapshot of the stream, follow it live as
# Server-Sent Events until it closes, then check the complete history.
# Usage: ./commands_streaming.sh   (TETHER_DEMO_URL=http://host:port, STEPS=n to change the defaults)
set -euo pipefail
source "$(dirname "$0")/_lib.sh"
STEPS="${STEPS:-10}"
EXPECTED=$((2 * STEPS + 2))  # start, (progress, result) per step, complete

echo "==================================="
echo "WORKFLOW STREAMING"
echo "==================================="
check_server
WF_ID="$(unique_id stream)"
echo "Workflow ID: ${WF_ID}"
echo ""

echo "📤 Step 1: start a streaming workflow of ${STEPS} steps"
out="$(req POST "/start-workflow-streaming/${WF_ID}/${STEPS}")"
echo "$out"
expect "$out" "\"read_stream\":\"/workflow-stream/${WF_ID}\"" "the workflow was started"
echo ""

echo "📸 Step 2: a snapshot: everything written so far (returns at once)"
req GET "/workflow-stream/${WF_ID}"
echo ""
echo ""

echo "📡 Step 3: follow the stream live (Server-Sent Events; ends when the workflow closes the stream)"
out="$(follow "/workflow-stream/${WF_ID}")"
echo "$out"
expect "$out" "event: end" "the end of the stream"
expect "$out" '"type":"complete"' "the completion message"
echo ""

echo "📚 Step 4: the snapshot again: the complete history, in order"
out="$(req GET "/workflow-stream/${WF_ID}")"
echo "$out"
expect "$out" "\"total_messages\":${EXPECTED}" "${EXPECTED} messages"
expect "$out" '"closed":true' "a closed stream"
echo ""
echo "   Resume from an offset: ${BASE_URL}/workflow-stream/${WF_ID}?offset=$((EXPECTED - 1))"
echo "   Watch it in a browser: ${BASE_URL}/stream-page/${WF_ID}"
echo ""

echo "==================================="
echo "✅ STREAMING DEMO COMPLETED"
echo "==================================="
echo "  • Streams keep every value in order; read them from any offset, any number of times"
echo "  • Poll /workflow-stream/ID for snapshots, or send Accept: text/event-stream to follow live"
