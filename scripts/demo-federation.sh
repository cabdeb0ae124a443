#!/usr/bin/env bash
# Three nodes on one machine (athens, berlin, cairo; SQLite each), peered with pinned keys;
# a share from athens crosses to its recipients on berlin and cairo. Ctrl-C stops them.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${VIGIL_BIN:-}" ] || [ -x .venv/bin/vigil ] || scripts/setup.sh
V="${VIGIL_BIN:-.venv/bin/vigil}"
ROOT="${VIGIL_FED_DEMO:-.vigil-fed-demo}"
export VIGIL_KEYRING_PASSPHRASE="${VIGIL_KEYRING_PASSPHRASE:-demo-passphrase}"
NAMES=(athens berlin cairo); MEMBERS=(alpha bravo charlie); COUNTRIES=(GR DE EG)
PORTS=(8471 8472 8473)
rm -rf "$ROOT"; mkdir -p "$ROOT"
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT INT TERM
declare -A TOKEN
for i in 0 1 2; do
  n=${NAMES[$i]} d="$ROOT/${NAMES[$i]}" p=${PORTS[$i]}
  $V --data "$d" init --name "$n node" >/dev/null
  printf 'fed_name = "%s"\npublic_url = "http://127.0.0.1:%s"\nport = %s\nlog_level = "warning"\n' \
    "$n" "$p" "$p" >> "$d/vigil.toml"
  $V --data "$d" member add "${MEMBERS[$i]}" --country "${COUNTRIES[$i]}" --kind agency >/dev/null
  TOKEN[$n]=$($V --data "$d" user add "${MEMBERS[$i]}" analyst 2>/dev/null | awk '/^token/{print $2}')
  $V --data "$d" serve >"$ROOT/$n.log" 2>&1 &
  PIDS+=($!)
done
for p in "${PORTS[@]}"; do
  until curl -fs "http://127.0.0.1:$p/healthz" >/dev/null; do sleep 0.2; done
done
echo "== three nodes up: athens :8471, berlin :8472, cairo :8473"
# each operator pins the others' node keys (in real life the pin comes over a phone line)
for i in 0 1 2; do
  for j in 0 1 2; do
    [ "$i" = "$j" ] && continue
    # (`vigil peer descriptor` on that node prints the same pin)
    pin=$(curl -fs "http://127.0.0.1:${PORTS[$j]}/.well-known/vigil-node" | \
          "${VIGIL_PYTHON:-.venv/bin/python}" -c 'import json,sys; print(json.load(sys.stdin)["descriptor"]["pin"])')
    $V --data "$ROOT/${NAMES[$i]}" peer add "http://127.0.0.1:${PORTS[$j]}" --pin "$pin"
  done
done
echo "== waiting for members to be announced with their log proofs"
until $V --data "$ROOT/athens" member list | grep -q 'charlie@cairo' && \
      $V --data "$ROOT/athens" member list | grep -q 'bravo@berlin'; do sleep 0.3; done
$V --data "$ROOT/athens" member list
cat > "$ROOT/bundle.json" <<'JSON'
{"type": "bundle", "id": "bundle--0b0c6a1e-4d2b-4c55-9a3e-6f1f9f3c2a01", "objects": [
 {"type": "indicator", "spec_version": "2.1",
  "id": "indicator--5b1f8f0e-2c1d-4e7a-9c1b-2d7c0b6e9a11",
  "created": "2026-12-01T08:00:00.000Z", "modified": "2026-12-01T08:00:00.000Z",
  "name": "C2 of a ransomware crew seen by athens", "indicator_types": ["malicious-activity"],
  "pattern": "[ipv4-addr:value = '203.0.113.66']", "pattern_type": "stix",
  "valid_from": "2026-12-01T08:00:00Z"}]}
JSON
echo "== alpha@athens publishes to bravo@berlin and charlie@cairo"
$V --data "$ROOT/athens" publish "$ROOT/bundle.json" --tlp amber --theme cyber \
   --to member:bravo@berlin --to member:charlie@cairo \
   --node http://127.0.0.1:8471 --token "${TOKEN[athens]}"
for n in berlin cairo; do
  i=$([ "$n" = berlin ] && echo 1 || echo 2)
  until [ -n "$($V --data "$ROOT/$n" inbox --node "http://127.0.0.1:${PORTS[$i]}" \
                 --token "${TOKEN[$n]}" 2>/dev/null)" ]; do sleep 0.2; done
  echo "== the inbox of ${MEMBERS[$i]} on $n:"
  $V --data "$ROOT/$n" inbox --node "http://127.0.0.1:${PORTS[$i]}" --token "${TOKEN[$n]}"
done
echo "== athens' peer links:"
$V --data "$ROOT/athens" peer status
echo "== serving until Ctrl-C (tokens: athens ${TOKEN[athens]} berlin ${TOKEN[berlin]} cairo ${TOKEN[cairo]})"
wait
