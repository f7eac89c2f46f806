#!/bin/sh
# Reads the hit counter from kv every INTERVAL seconds and logs it (see `compose logs worker`).
interval=${INTERVAL:-5}
while true; do
    n=$(echo "GET hits" | timeout 3 nc kv 6379)
    if [ -z "$n" ]; then
        echo "$(date '+%H:%M:%S') kv unreachable"
    else
        echo "$(date '+%H:%M:%S') hits=$n"
    fi
    sleep "$interval"
done
