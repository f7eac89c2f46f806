#!/bin/sh
# GET /: busybox httpd runs cgi-bin/index.cgi for a directory without index.html. Asks the api
# (by service name) to count the visit and shows the answer.
answer=$(timeout 5 wget -qO- http://api/cgi-bin/hit 2>&1) || answer="api unreachable: $answer"
printf 'Content-Type: text/plain\r\n\r\n'
echo "Hello from the quickstart stack (web: $(hostname))"
echo "api says: $answer"
