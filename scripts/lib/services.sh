# Test services, installed and started idempotently. Sourced by scripts/test and scripts/bench-*.
#
# Everything lives under $LEDGERLY_SERVICES_DIR (default: <target dir>/services), so a run never
# touches the system's own PostgreSQL cluster, and a second run reuses what the first started.

: "${LEDGERLY_SERVICES_DIR:=${CARGO_TARGET_DIR:-$PWD/target}/services}"
: "${LEDGERLY_PG_PORT:=54329}"

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]} from Debian"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

pg_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$dir" ] || { echo "PostgreSQL server binaries not found under /usr/lib/postgresql" >&2; return 1; }
    echo "$dir"
}

# Turns TLS on in the running test PostgreSQL (data folder $1, run as $2), with a server
# certificate for the name `localhost` only, signed by a CA made here; exports LEDGERLY_TEST_PG_CA,
# that CA's certificate, for the tests that check `sslmode=verify-full`. Plain connections keep
# working.
enable_postgres_tls() {
    local data=$1 owner=$2 tls="$LEDGERLY_SERVICES_DIR/postgres/tls"
    if [ ! -s "$tls/ca.crt" ] || [ ! -s "$data/server.crt" ]; then
        log "making a test CA and a TLS certificate for PostgreSQL"
        mkdir -p "$tls"
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Ledgerly test CA" \
            -keyout "$tls/ca.key" -out "$tls/ca.crt" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
            -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
        printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$tls/server.ext"
        openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
            -CAcreateserial -days 3650 -extfile "$tls/server.ext" -out "$tls/server.crt" 2>/dev/null
        install -m 0600 -o "$owner" "$tls/server.key" "$data/server.key"
        install -m 0644 -o "$owner" "$tls/server.crt" "$data/server.crt"
    fi
    if [ "$(psql -qAt "$LEDGERLY_TEST_DATABASE_URL" -c 'SHOW ssl')" != "on" ]; then
        psql -q "$LEDGERLY_TEST_DATABASE_URL" -c "ALTER SYSTEM SET ssl = on" -c "SELECT pg_reload_conf()" >/dev/null
        for _ in $(seq 1 50); do
            [ "$(psql -qAt "$LEDGERLY_TEST_DATABASE_URL" -c 'SHOW ssl')" = "on" ] && break
            sleep 0.1
        done
    fi
    export LEDGERLY_TEST_PG_CA="$tls/ca.crt"
}

# Starts a private PostgreSQL on 127.0.0.1:$LEDGERLY_PG_PORT with trust auth for local tests and
# exports LEDGERLY_TEST_DATABASE_URL (an admin URL; tests create one database each).
start_postgres() {
    apt_install postgresql postgresql-contrib
    local bin data run owner
    bin=$(pg_bindir)
    data="$LEDGERLY_SERVICES_DIR/postgres/data"
    run="$LEDGERLY_SERVICES_DIR/postgres/run"
    mkdir -p "$LEDGERLY_SERVICES_DIR/postgres" "$run"
    # PostgreSQL refuses to run as root: run it as the Debian package's postgres user.
    owner=$(id -un)
    if [ "$(id -u)" -eq 0 ]; then owner=postgres; fi
    run_pg() { if [ "$owner" = "$(id -un)" ]; then "$@"; else runuser -u "$owner" -- "$@"; fi; }
    chown "$owner" "$LEDGERLY_SERVICES_DIR/postgres" "$run"
    # The services folder sits inside the target dir; the postgres user must be able to reach it.
    local d="$LEDGERLY_SERVICES_DIR"
    while [ "$d" != "/" ]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done
    if [ ! -s "$data/PG_VERSION" ]; then
        log "initialising a private PostgreSQL cluster in $data"
        rm -rf "$data"
        run_pg "$bin/initdb" -D "$data" -U ledgerly --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
        cat >>"$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $LEDGERLY_PG_PORT
unix_socket_directories = '$run'
# Test data is disposable: trade durability for speed.
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 256MB
CONF
    fi
    if ! run_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        log "starting PostgreSQL on 127.0.0.1:$LEDGERLY_PG_PORT"
        run_pg "$bin/pg_ctl" -D "$data" -l "$LEDGERLY_SERVICES_DIR/postgres/server.log" -w -t 60 start >/dev/null
    fi
    export LEDGERLY_TEST_DATABASE_URL="postgres://ledgerly@127.0.0.1:$LEDGERLY_PG_PORT/postgres"
    enable_postgres_tls "$data" "$owner"
    # Drop databases left by failed tests of earlier runs.
    psql -qAt "$LEDGERLY_TEST_DATABASE_URL" -c \
        "SELECT 'DROP DATABASE IF EXISTS ' || quote_ident(datname) || ' WITH (FORCE);' FROM pg_database WHERE datname LIKE 'ledgerly_test_%'" \
        | psql -q "$LEDGERLY_TEST_DATABASE_URL" >/dev/null
}

: "${LEDGERLY_MOTO_PORT:=54330}"

# Starts the AWS emulator (moto's server, from PyPI) on 127.0.0.1:$LEDGERLY_MOTO_PORT and exports
# LEDGERLY_TEST_AWS_ENDPOINT plus dummy credentials for it.
start_moto() {
    local venv="$LEDGERLY_SERVICES_DIR/moto/venv"
    if [ ! -x "$venv/bin/moto_server" ]; then
        log "installing the AWS emulator (moto[server]) from PyPI"
        mkdir -p "$LEDGERLY_SERVICES_DIR/moto"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check 'moto[server]>=5,<6'
    fi
    export LEDGERLY_TEST_AWS_ENDPOINT="http://127.0.0.1:$LEDGERLY_MOTO_PORT"
    # IAM's managed policies loaded (so attaching one out of band works), Lambda checking its
    # image in the emulated ECR, EC2 refusing unknown AMIs, key pairs and instance types as AWS
    # does, and a requested ACM certificate issued at once (AWS: once its DNS validation records
    # resolve; the pending path is unit-tested).
    local settings="MOTO_IAM_LOAD_MANAGED_POLICIES=true MOTO_LAMBDA_STUB_ECR=false MOTO_ENABLE_AMI_VALIDATION=true MOTO_ENABLE_KEYPAIR_VALIDATION=true MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION=true MOTO_ACM_VALIDATION_WAIT=0"
    local stamp="$LEDGERLY_SERVICES_DIR/moto/settings"
    if curl -fsS "$LEDGERLY_TEST_AWS_ENDPOINT/moto-api/" >/dev/null 2>&1 \
        && [ "$(cat "$stamp" 2>/dev/null)" != "$settings" ]; then
        log "restarting the AWS emulator with new settings"
        kill "$(cat "$LEDGERLY_SERVICES_DIR/moto/pid" 2>/dev/null)" 2>/dev/null \
            || pkill -f "moto_server -H 127.0.0.1 -p $LEDGERLY_MOTO_PORT" || true
        for _ in $(seq 1 50); do
            curl -fsS "$LEDGERLY_TEST_AWS_ENDPOINT/moto-api/" >/dev/null 2>&1 || break
            sleep 0.2
        done
    fi
    if ! curl -fsS "$LEDGERLY_TEST_AWS_ENDPOINT/moto-api/" >/dev/null 2>&1; then
        log "starting the AWS emulator on 127.0.0.1:$LEDGERLY_MOTO_PORT"
        # shellcheck disable=SC2086
        nohup env $settings \
            "$venv/bin/moto_server" -H 127.0.0.1 -p "$LEDGERLY_MOTO_PORT" \
            >"$LEDGERLY_SERVICES_DIR/moto/server.log" 2>&1 &
        echo $! >"$LEDGERLY_SERVICES_DIR/moto/pid"
        echo "$settings" >"$stamp"
        for _ in $(seq 1 100); do
            curl -fsS "$LEDGERLY_TEST_AWS_ENDPOINT/moto-api/" >/dev/null 2>&1 && break
            sleep 0.2
        done
        curl -fsS "$LEDGERLY_TEST_AWS_ENDPOINT/moto-api/" >/dev/null || {
            echo "the AWS emulator did not start; see $LEDGERLY_SERVICES_DIR/moto/server.log" >&2
            return 1
        }
    fi
    # The emulator accepts any credentials; these keep the SDK from looking for real ones.
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
    export AWS_EC2_METADATA_DISABLED=true
}

# Installs schemathesis (the OpenAPI fuzzer, from PyPI) and exports LEDGERLY_SCHEMATHESIS, the path
# of its CLI, for the API suite's schemathesis test; and jsonschema in the same environment
# (LEDGERLY_TEST_PYTHON), which checks `ledgerctl status --output json` against its schema.
install_schemathesis() {
    local venv="$LEDGERLY_SERVICES_DIR/schemathesis/venv"
    if [ ! -x "$venv/bin/schemathesis" ]; then
        log "installing schemathesis from PyPI"
        mkdir -p "$LEDGERLY_SERVICES_DIR/schemathesis"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check 'schemathesis>=4.3,<5'
    fi
    if ! "$venv/bin/python" -c 'import jsonschema' 2>/dev/null; then
        log "installing jsonschema from PyPI"
        "$venv/bin/pip" install -q --disable-pip-version-check 'jsonschema>=4.18,<5'
    fi
    export LEDGERLY_SCHEMATHESIS="$venv/bin/schemathesis"
    export LEDGERLY_TEST_PYTHON="$venv/bin/python"
}

# The programs and fonts the OCR crate uses: tesseract 5 with English, poppler's pdftoppm for PDF
# receipts, heif-convert for HEIC, and the fonts the receipt generator draws with.
install_ocr_tools() {
    apt_install tesseract-ocr tesseract-ocr-eng poppler-utils libheif-examples \
        fonts-dejavu-core fonts-liberation
}

: "${LEDGERLY_REGISTRY_PORT:=54331}"
: "${LEDGERLY_SSHD_PORT:=54332}"

# Checks that this machine's Docker engine answers (the deploy tests build and run containers),
# and installs the static busybox the reconcile tests make their small images from.
require_docker() {
    apt_install busybox-static
    if ! docker version >/dev/null 2>&1; then
        echo "the Docker engine does not answer; start it (the deploy tests need it)" >&2
        return 1
    fi
}

# Starts a container registry (Debian's docker-registry, standing in for ECR) on
# 127.0.0.1:$LEDGERLY_REGISTRY_PORT and exports LEDGERLY_TEST_REGISTRY. The engine allows plain
# HTTP to 127.0.0.0/8.
start_registry() {
    apt_install docker-registry
    local dir="$LEDGERLY_SERVICES_DIR/registry"
    export LEDGERLY_TEST_REGISTRY="127.0.0.1:$LEDGERLY_REGISTRY_PORT"
    if curl -fsS "http://$LEDGERLY_TEST_REGISTRY/v2/" >/dev/null 2>&1; then
        return 0
    fi
    mkdir -p "$dir/data"
    cat >"$dir/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: $LEDGERLY_TEST_REGISTRY
  secret: ledgerly-test-registry
YAML
    log "starting a container registry on $LEDGERLY_TEST_REGISTRY"
    nohup /usr/bin/docker-registry serve "$dir/config.yml" >"$dir/server.log" 2>&1 &
    echo $! >"$dir/pid"
    for _ in $(seq 1 100); do
        curl -fsS "http://$LEDGERLY_TEST_REGISTRY/v2/" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "the registry did not start; see $dir/server.log" >&2
    return 1
}

# Starts an sshd of the tests' own on 127.0.0.1:$LEDGERLY_SSHD_PORT that lets a generated test key
# in as this user, so deploy can reach this machine's Docker engine over ssh://. Exports
# LEDGERLY_TEST_SSH (user@127.0.0.1:port), LEDGERLY_TEST_SSH_KEY and LEDGERLY_TEST_SSH_KNOWN_HOSTS.
start_sshd() {
    apt_install openssh-server openssh-client
    local dir="$LEDGERLY_SERVICES_DIR/sshd"
    mkdir -p "$dir"
    chmod 700 "$dir"
    [ -f "$dir/host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key"
    [ -f "$dir/client_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$dir/client_key" -C ledgerly-test
    cp "$dir/client_key.pub" "$dir/authorized_keys"
    # The known_hosts entry for the test server, so the tests check its host key.
    printf '[127.0.0.1]:%s %s\n' "$LEDGERLY_SSHD_PORT" "$(cut -d' ' -f1,2 "$dir/host_key.pub")" >"$dir/known_hosts"
    # (TCP forwarding on: Debian's sshd refuses socket forwards without it.)
    cat >"$dir/sshd_config.new" <<CONF
Port $LEDGERLY_SSHD_PORT
ListenAddress 127.0.0.1
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
StreamLocalBindUnlink yes
LogLevel ERROR
CONF
    export LEDGERLY_TEST_SSH="$(id -un)@127.0.0.1:$LEDGERLY_SSHD_PORT"
    export LEDGERLY_TEST_SSH_KEY="$dir/client_key"
    export LEDGERLY_TEST_SSH_KNOWN_HOSTS="$dir/known_hosts"
    if [ -f "$dir/sshd.pid" ] && kill -0 "$(cat "$dir/sshd.pid")" 2>/dev/null; then
        if cmp -s "$dir/sshd_config.new" "$dir/sshd_config"; then
            rm -f "$dir/sshd_config.new"
            return 0
        fi
        log "restarting the test sshd with its new configuration"
        local pid
        pid=$(cat "$dir/sshd.pid")
        kill "$pid"
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$dir/sshd.pid"
    mv "$dir/sshd_config.new" "$dir/sshd_config"
    mkdir -p /run/sshd 2>/dev/null || as_root mkdir -p /run/sshd
    log "starting a test sshd on 127.0.0.1:$LEDGERLY_SSHD_PORT"
    /usr/sbin/sshd -t -f "$dir/sshd_config"
    /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
    for _ in $(seq 1 50); do
        [ -f "$dir/sshd.pid" ] && return 0
        sleep 0.1
    done
    echo "sshd did not start; see $dir/sshd.log" >&2
    return 1
}

# HAProxy (Debian's), for the zero-downtime deploy test: the stand-in for Traefik (which no
# Debian package ships and this machine cannot pull), made into an image from the host's binary
# like the app's own, health-checking /readyz and finding the API's containers by DNS.
install_proxy_tools() {
    apt_install haproxy
    # The network tests: a stand-in metadata service in a network namespace (ip), the host rule
    # that guards it (iptables).
    apt_install iproute2 iptables
}

# Prometheus and promtool (Debian's), for the monitoring tests: the rules' unit tests, the config
# check, and a real Prometheus scraping a running API.
# docker-compose (Debian's), which checks that the rendered production stack is a valid Compose
# file. GoAccess (Debian's), which makes the ECS stack's report from load balancer access logs.
install_monitoring_tools() {
    apt_install prometheus docker-compose goaccess
}

# man (Debian's), for the CLI tests: the generated manual pages are read with man.
install_cli_tools() {
    apt_install man-db
}

# Headless Chromium and its WebDriver (Debian's), for the dashboard's browser tests. Exports
# LEDGERLY_TEST_CHROMEDRIVER and LEDGERLY_TEST_CHROMIUM.
install_browser() {
    apt_install chromium chromium-driver fonts-dejavu-core
    export LEDGERLY_TEST_CHROMEDRIVER="${LEDGERLY_TEST_CHROMEDRIVER:-$(command -v chromedriver)}"
    export LEDGERLY_TEST_CHROMIUM="${LEDGERLY_TEST_CHROMIUM:-$(command -v chromium)}"
}
