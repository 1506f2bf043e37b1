#!/bin/bash
# Seed 000's purge_old_matrix_rooms.sh, as the purge race runs it. Two
# changes only: the rooms are the arguments (the script's room list is the
# server's first 100 rooms, which on the test bed are other rooms), and the
# DELETE carries the JSON body the v1 DELETE needs (without it Synapse
# answers 400 M_NOT_JSON). The admin token is read from a header file, not
# put on curl's command line. Everything else is the seed's: curl for each
# request, jq for the creation time, date for the age.
#
# usage: SYNAPSE=http://127.0.0.1:8008 AUTH_HEADER_FILE=/path seed000-purge.sh ROOM_ID...


for room_id in "$@"; do
  # Get room details
  creation_ts=$(curl -s -H @"$AUTH_HEADER_FILE" "$SYNAPSE/_synapse/admin/v1/rooms/$room_id" | jq '.created_ts')

  # Calculate age in days
  age_days=$(( ( $(date +%s) - creation_ts/1000 ) / 86400 ))

  # If older than 30 days, delete the room
  if [ $age_days -gt 30 ]; then
    echo "Deleting room $room_id (age: $age_days days)"
    curl -s -X DELETE -H @"$AUTH_HEADER_FILE" -H 'Content-Type: application/json' -d '{}' "$SYNAPSE/_synapse/admin/v1/rooms/$room_id"
    echo
  fi
done
