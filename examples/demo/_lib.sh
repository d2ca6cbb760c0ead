# Helpers shared by the commands_*.sh scripts: requests with curl (or httpie), checks, unique IDs.
# BASE_URL comes from $TETHER_DEMO_URL (default http://localhost:8000). HTTP_CLIENT=httpie forces httpie;
# by default curl is used, and httpie only when curl is missing.

BASE_URL="${TETHER_DEMO_URL:-http://localhost:8000}"
BASE_URL="${BASE_URL%/}"

if [ "${HTTP_CLIENT:-}" = "httpie" ] || ! command -v curl >/dev/null 2>&1; then
    if ! command -v http >/dev/null 2>&1; then
        echo "❌ Neither curl nor httpie (http) is installed" >&2
        exit 1
    fi
    HTTP_CLIENT=httpie
else
    HTTP_CLIENT=curl
fi

# req METHOD PATH [JSON_BODY]: print the response body; fail (exit 1) on an HTTP error.
req() {
    local method="$1" path="$2" body="${3:-}"
    if [ "$HTTP_CLIENT" = "curl" ]; then
        if [ -n "$body" ]; then
            curl -sS --fail-with-body --max-time 300 -X "$method" -H 'Content-Type: application/json' \
                --data "$body" "${BASE_URL}${path}"
        else
            curl -sS --fail-with-body --max-time 300 -X "$method" "${BASE_URL}${path}"
        fi
    else
        if [ -n "$body" ]; then
            printf '%s' "$body" | http --check-status --body --timeout 300 "$method" "${BASE_URL}${path}" \
                Content-Type:application/json
        else
            http --ignore-stdin --check-status --body --timeout 300 "$method" "${BASE_URL}${path}"
        fi
    fi
}

# follow PATH: print a stream's Server-Sent Events as they arrive, until the server ends the stream.
follow() {
    if [ "$HTTP_CLIENT" = "curl" ]; then
        curl -sS -N --fail-with-body --max-time 300 -H 'Accept: text/event-stream' "${BASE_URL}$1"
    else
        http --ignore-stdin --check-status --stream --body --timeout 300 GET "${BASE_URL}$1" \
            Accept:text/event-stream
    fi
}

# expect TEXT NEEDLE WHAT: fail unless TEXT contains NEEDLE (responses are compact JSON: "key":value).
expect() {
    case "$1" in
        *"$2"*) echo "   ✔ $3" ;;
        *) echo "❌ Expected $3 (${2}) in: $1" >&2; exit 1 ;;
    esac
}

check_server() {
    echo "Checking that the server at ${BASE_URL} is up (client: ${HTTP_CLIENT})..."
    if ! req GET /health >/dev/null 2>&1; then
        echo "❌ The server is not running at ${BASE_URL}"
        echo "   Start it with: tether demo   (or set TETHER_DEMO_URL)"
        exit 1
    fi
    echo "✅ Server is running"
    echo ""
}

# unique_id PREFIX: a workflow ID no earlier run has used.
unique_id() {
    echo "$1-$(date +%s)-$$-${RANDOM}"
}
