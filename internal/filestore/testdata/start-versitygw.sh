#!/usr/bin/env bash
# Starts versitygw, an S3-compatible server, on a free loopback port over a
# fresh temporary folder, for the S3 tests of internal/filestore (and any
# test that calls testenv.S3Endpoint). Prints the variables those tests
# read, as shell lines to eval:
#
#   eval "$(internal/filestore/testdata/start-versitygw.sh)"
#   go test ./internal/filestore/...
#   kill "$PARTNERBILL_TEST_S3_PID"; rm -rf "$PARTNERBILL_TEST_S3_DIR"
#
# It exports AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION for
# the test server, and unsets AWS_SESSION_TOKEN and AWS_PROFILE, so run it
# only where nothing else needs real AWS credentials.
#
# versitygw is $VERSITYGW, else versitygw on PATH, else $(go env GOPATH)/bin;
# install it with: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
# The server's log is $PARTNERBILL_TEST_S3_DIR/versitygw.log.
set -euo pipefail

access=pbtestaccess
secret=pbtestsecret1234

gw=${VERSITYGW:-$(command -v versitygw || true)}
if [[ -z $gw ]]; then
	gw=$(go env GOPATH)/bin/versitygw
fi
if [[ ! -x $gw ]]; then
	echo "start-versitygw.sh: versitygw not found; go install github.com/versity/versitygw/cmd/versitygw@v1.8.0" >&2
	exit 1
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/pb-versitygw.XXXXXX")
mkdir "$dir/data"

# answers PORT: whether versitygw answers on PORT (any S3 answer will do,
# an unsigned request gets 403).
answers() {
	curl -s -o /dev/null -m 2 -D - "http://127.0.0.1:$1/" 2>/dev/null | grep -qi '^server: *versitygw'
}

# listening PORT: whether anything accepts connections on PORT.
listening() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A random port may be taken by the time versitygw binds it: then
# versitygw exits, and another port is tried.
for attempt in 1 2 3 4 5 6 7 8 9 10; do
	port=$((20000 + RANDOM % 40000))
	if listening "$port"; then
		continue
	fi
	ROOT_ACCESS_KEY=$access ROOT_SECRET_KEY=$secret \
		"$gw" --port "127.0.0.1:$port" posix "$dir/data" >"$dir/versitygw.log" 2>&1 </dev/null &
	pid=$!
	for _ in $(seq 100); do # 10 s
		if ! kill -0 "$pid" 2>/dev/null; then
			break
		fi
		if answers "$port"; then
			cat <<-END
				export PARTNERBILL_TEST_S3_ENDPOINT=http://127.0.0.1:$port
				export AWS_ACCESS_KEY_ID=$access
				export AWS_SECRET_ACCESS_KEY=$secret
				export AWS_REGION=us-east-1
				unset AWS_SESSION_TOKEN AWS_PROFILE
				export PARTNERBILL_TEST_S3_PID=$pid
				export PARTNERBILL_TEST_S3_DIR=$dir
			END
			exit 0
		fi
		sleep 0.1
	done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
done
echo "start-versitygw.sh: versitygw did not start; its last log:" >&2
cat "$dir/versitygw.log" >&2
rm -rf "$dir"
exit 1
