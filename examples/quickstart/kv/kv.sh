#!/bin/sh
# One client connection of the kv service (run by `nc -ll -e`): reads commands, one per line,
# and answers each with one line. Keys are files in /data (a named volume), so counts survive
# `down` and `up` until `down -v`.
#   PING -> PONG    GET key -> value (0 if unset)    INCR key -> new value    SET key value -> OK
# INCR is atomic across concurrent connections: `mkdir` of a lock directory succeeds for one.
lock() { while ! mkdir /data/.lock 2>/dev/null; do sleep 0.01; done; }
unlock() { rm -r /data/.lock; }

while read -r cmd key value; do
    key=$(echo "$key" | tr -cd 'A-Za-z0-9_-')
    value=$(echo "$value" | tr -d '\r')
    case "$(echo "$cmd" | tr -d '\r')" in
    PING) echo PONG ;;
    GET) cat "/data/$key" 2>/dev/null || echo 0 ;;
    SET) echo "$value" >"/data/$key" && echo OK ;;
    INCR)
        lock
        n=$(cat "/data/$key" 2>/dev/null || echo 0)
        n=$((n + 1))
        echo "$n" >"/data/$key"
        unlock
        echo "$n"
        ;;
    *) echo "ERR unknown command" ;;
    esac
done
