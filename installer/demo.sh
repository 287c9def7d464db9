#!/usr/bin/env bash
# `make demo`: a local district server on SQLite, the demo kiosk enrolled with it, and the
# kiosk on the simulated kit (in a window when there is a display; else on Xvfb for 20 s,
# with a screenshot). The district's console serves a demo agent whose station group holds
# the demo kiosk's station, and the kiosk's first run queues a few sample applications for
# their inbox. The district server (and with it the console) stops when the kiosk does.
set -euo pipefail
cd "$(dirname "$0")/.."

DEMO=build/demo
PORT=${DOORSTEP_DEMO_PORT:-8700}
SERVER="http://127.0.0.1:$PORT"
KIOSK=(.venv/bin/kiosk --data-dir "$DEMO" --config assets/demo/kiosk.toml)
DISTRICT=(.venv/bin/district --db "sqlite:///$DEMO/district.sqlite3" --key-file "$DEMO/district.key")
mkdir -p "$DEMO"

"${DISTRICT[@]}" catalog import assets/catalog/sample-catalog.toml >/dev/null
"${DISTRICT[@]}" serve --port "$PORT" >"$DEMO/district.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  if .venv/bin/python -c "import httpx,sys; httpx.get('$SERVER/v1/health').raise_for_status()" \
      2>/dev/null; then
    break
  fi
  kill -0 $server 2>/dev/null || { echo "the district server did not start:"; cat "$DEMO/district.log"; exit 1; }
  sleep 0.1
done
echo "district server: $SERVER (log: $DEMO/district.log)"

enrolled=$("${KIOSK[@]}" sync status --json | .venv/bin/python -c "import json,sys; print(json.load(sys.stdin)['enrolled'])")
if [[ "$enrolled" != "True" ]]; then
  answer=$("${DISTRICT[@]}" station add "示例街道家门口服务站" --code DEMO01 --json 2>/dev/null) \
    || answer=$("${DISTRICT[@]}" station code DEMO01 --json)
  code=$(echo "$answer" | .venv/bin/python -c "import json,sys; print(json.load(sys.stdin)['enrollment_code'])")
  "${KIOSK[@]}" enroll --server "$SERVER" --code "$code"
fi
# The demo agent serves the station group "demo"; the demo station is in it (every time:
# a station enrolled by an older demo had no group).
"${DISTRICT[@]}" station group DEMO01 demo >/dev/null
DEMO_AGENT=demo.agent
DEMO_AGENT_PASSWORD=demo-agent-2026
if ! "${DISTRICT[@]}" user list --json | .venv/bin/python -c \
    "import json,sys; sys.exit('$DEMO_AGENT' not in [u['name'] for u in json.load(sys.stdin)])"; then
  echo "$DEMO_AGENT_PASSWORD" | "${DISTRICT[@]}" user add "$DEMO_AGENT" --role agent \
    --station-group demo --password-stdin >/dev/null
fi
"${KIOSK[@]}" sync --once || true
# Sample applications for the agent's inbox, the first time (a made-up resident; the item
# is in the catalog the first sync brought).
if [[ $("${KIOSK[@]}" applications list --json) == "[]" ]]; then
  echo '{"name": "李小梅", "ssn": "310115198503150027", "birth_date": "1985-03-15"}' \
    >"$DEMO/resident.json"
  "${KIOSK[@]}" applications new --item MI-001 --resident-json "$DEMO/resident.json" \
    --count 3 >/dev/null && "${KIOSK[@]}" sync --once >/dev/null || true
fi
echo "district console: $SERVER/console/ (agent $DEMO_AGENT, password $DEMO_AGENT_PASSWORD)"
# Staff mode needs a PIN; the demo's is DEMO_PIN (a station's is set by its technician).
DEMO_PIN=314159
[[ -f "$DEMO/staff-pin.json" ]] || echo "$DEMO_PIN" | "${KIOSK[@]}" staff set-pin --pin-stdin >/dev/null
echo "staff mode: tap the station's name (top left) 5 times within 4 s, PIN $DEMO_PIN"

echo "video call: sign in to the console as $DEMO_AGENT and open 视频坐席 (Calls); at the kiosk"
echo "  open 医疗保障 → 基本医疗保险关系转移接续申请 (MI-007) and tap 视频连线坐席 (Video call an agent)"

if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
  "${KIOSK[@]}" run --windowed
else
  installer/system-packages.sh test
  echo "No display here: running the demo on a virtual screen for 20 s;"
  echo "a screenshot is saved to $DEMO/kiosk.png"
  xvfb-run -a -s "-screen 0 1920x1080x24" "${KIOSK[@]}" run --windowed \
    --screenshot "$DEMO/kiosk.png" --quit-after 20
  # Without a screen nobody can tap the kiosk's call button: the demo kiosk calls by
  # itself (`kiosk call`, the simulated camera), again whenever no agent was available,
  # until Ctrl-C. Take the call in the console; ask it for captures; chat.
  echo "The demo kiosk now calls the district with its simulated camera: open"
  echo "  $SERVER/console/call as $DEMO_AGENT (password $DEMO_AGENT_PASSWORD) and take it."
  echo "Ctrl-C stops the demo."
  trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true; exit 0' INT TERM
  while true; do
    "${KIOSK[@]}" call --item MI-007 --title 基本医疗保险关系转移接续申请 \
      --category medical_insurance --answer-captures --chat "您好,我想咨询医保转移" \
      --seconds 1800 >"$DEMO/call.log" 2>&1 || true
    sleep 3
  done
fi
