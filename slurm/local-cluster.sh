#!/bin/bash
# A one-node Slurm cluster on this machine, for tests and CI (Debian/Ubuntu, as root).
#
#   bash slurm/local-cluster.sh up       install (if needed), configure, start; idempotent
#   bash slurm/local-cluster.sh down     cancel jobs, stop only the daemons that `up` started
#   bash slurm/local-cluster.sh status   daemons, sinfo
#
# `up` installs munge, slurm-client, slurmctld, slurmd and libpmix2 from the distribution (no
# systemd needed), writes /etc/slurm/slurm.conf and mpi.conf for this machine, starts munged,
# `slurmctld -c` and slurmd, waits for the node to be idle and smoke-tests `srun -n 2 hostname`.
# The pids it starts are recorded in $STATE_FILE; `down` stops those (SIGTERM, then SIGKILL
# after 15 s) and nothing else. Safe without a terminal (CI=true, stdin closed).
set -euo pipefail

BASE=/var/spool/slurm-local
RUN_DIR=$BASE/run
STATE_FILE=$RUN_DIR/local-cluster.pids        # lines: "<name> <pid>"
SLURM_CONF=/etc/slurm/slurm.conf
MPI_CONF=/etc/slurm/mpi.conf
PACKAGES=(munge slurm-client slurmctld slurmd libpmix2)
MARK="# Written by distgrad slurm/local-cluster.sh"
export DEBIAN_FRONTEND=noninteractive

log() { echo "local-cluster: $*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- process helpers

# alive PID [COMM]: the process exists, is not a zombie (PID 1 here reaps lazily), and has
# the expected command name.
alive() {
    local pid=$1 comm=${2:-} stat state
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    state=${stat##*) }
    state=${state%% *}
    [ "$state" != Z ] && [ "$state" != X ] || return 1
    [ -z "$comm" ] || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ]
}

pid_from_file() { [ -r "$1" ] && tr -dc '0-9' < "$1" || true; }

recorded_pid() { [ -r "$STATE_FILE" ] && awk -v n="$1" '$1 == n { print $2 }' "$STATE_FILE" | tail -n 1 || true; }

record_pid() {
    mkdir -p "$RUN_DIR"
    { [ -r "$STATE_FILE" ] && awk -v n="$1" '$1 != n' "$STATE_FILE"; echo "$1 $2"; } > "$STATE_FILE.tmp"
    mv "$STATE_FILE.tmp" "$STATE_FILE"
}

# wait_pidfile FILE COMM: wait (10 s) for a daemon to write its pid file; prints the pid.
wait_pidfile() {
    local pid i
    for i in $(seq 1 100); do
        pid=$(pid_from_file "$1")
        if [ -n "$pid" ] && alive "$pid" "$2"; then echo "$pid"; return 0; fi
        sleep 0.1
    done
    return 1
}

# stop_pids NAME=PID...: SIGTERM, wait up to 15 s, then SIGKILL what is left.
stop_pids() {
    local item name pid left i
    for item in "$@"; do
        name=${item%%=*}; pid=${item#*=}
        if alive "$pid" "$name"; then log "stopping $name (pid $pid)"; kill -TERM "$pid" 2>/dev/null || true; fi
    done
    for i in $(seq 1 150); do
        left=0
        for item in "$@"; do alive "${item#*=}" "${item%%=*}" && left=1; done
        [ "$left" = 0 ] && return 0
        sleep 0.1
    done
    for item in "$@"; do
        name=${item%%=*}; pid=${item#*=}
        if alive "$pid" "$name"; then log "$name (pid $pid) ignored SIGTERM; SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
    done
}

show_logs() {
    local f
    for f in "$BASE/log/slurmctld.log" "$BASE/log/slurmd.log"; do
        [ -r "$f" ] && { log "--- tail of $f"; tail -n 20 "$f" >&2; }
    done
    return 0
}

# ---------------------------------------------------------------- up

install_packages() {
    local p missing=() added_policy=0
    for p in "${PACKAGES[@]}"; do
        [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] || missing+=("$p")
    done
    [ "${#missing[@]}" -gt 0 ] || return 0
    command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get"
    log "installing ${missing[*]}"
    # No init system here: keep the packages' scripts from trying to start the services.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        added_policy=1
    fi
    local rc=0
    { apt-get update -q -o DPkg::Lock::Timeout=120 \
        && apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 "${missing[@]}"; } \
        </dev/null >&2 || rc=$?
    [ "$added_policy" = 0 ] || rm -f /usr/sbin/policy-rc.d
    [ "$rc" = 0 ] || die "apt-get failed (exit $rc)"
    CHANGED=1
}

fix_pmix() {
    # Slurm's mpi/pmix plugin dlopen()s pmix2/lib/libpmix.so, which only libpmix-dev provides.
    local so dir
    for so in /usr/lib/*/pmix2/lib/libpmix.so.2; do
        [ -e "$so" ] || continue
        dir=${so%/*}
        if [ ! -e "$dir/libpmix.so" ]; then
            ln -sf libpmix.so.2 "$dir/libpmix.so"
            log "linked $dir/libpmix.so -> libpmix.so.2"
            CHANGED=1
        fi
    done
}

# install_file PATH CONTENT: write if different (backing up a file that is not ours).
install_file() {
    local path=$1 content=$2
    if [ -e "$path" ] && [ "$(cat "$path")" = "$content" ]; then return 0; fi
    if [ -e "$path" ] && ! grep -qF "$MARK" "$path"; then
        cp -p "$path" "$path.before-local-cluster"
        log "backed up $path to $path.before-local-cluster"
    fi
    mkdir -p "${path%/*}"
    printf '%s\n' "$content" > "$path"
    log "wrote $path"
    CHANGED=1
}

write_config() {
    local node cpus mem
    node=$(hostname -s)
    cpus=$(nproc); [ "$cpus" -ge 4 ] || cpus=4   # config_overrides lets CPUs exceed the cores
    mem=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 }' /proc/meminfo)
    NODE=$node
    install_file "$SLURM_CONF" "$MARK (do not edit; it is rewritten by 'up')
ClusterName=localci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=pmi2
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SlurmdParameters=config_overrides
ReturnToService=2
MailProg=/bin/true
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
InactiveLimit=0
KillWait=5
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=30
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
StateSaveLocation=$BASE/ctld
SlurmdSpoolDir=$BASE/d
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd.log
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
    # The Open MPI wheel's PMIx has no munge security plugin: use native in every task.
    install_file "$MPI_CONF" "$MARK
PMIxEnv=PMIX_MCA_psec=native"
    mkdir -p "$BASE/ctld" "$BASE/d" "$BASE/log" "$RUN_DIR"
}

start_munge() {
    if [ ! -s /etc/munge/munge.key ]; then
        mungekey --create --keyfile=/etc/munge/munge.key --force </dev/null
        chown munge:munge /etc/munge/munge.key
        chmod 600 /etc/munge/munge.key
    fi
    if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then return 0; fi
    install -d -o munge -g munge -m 755 /run/munge
    runuser -u munge -- /usr/sbin/munged </dev/null
    local pid
    pid=$(wait_pidfile /run/munge/munged.pid munged) || die "munged did not start"
    record_pid munged "$pid"
    munge -n </dev/null | unmunge >/dev/null || die "munge round trip failed"
    log "started munged (pid $pid)"
}

# start_daemon NAME PIDFILE CMD...: (re)start a Slurm daemon; restart it if the config changed.
start_daemon() {
    local name=$1 pidfile=$2 pid
    shift 2
    pid=$(pid_from_file "$pidfile")
    if [ -n "$pid" ] && alive "$pid" "$name"; then
        [ "$CHANGED" = 1 ] || return 0
        log "configuration changed: restarting $name"
        stop_pids "$name=$pid"
    fi
    "$@" </dev/null || { show_logs; die "$name failed to start"; }
    pid=$(wait_pidfile "$pidfile" "$name") || { show_logs; die "$name did not start"; }
    record_pid "$name" "$pid"
    log "started $name (pid $pid)"
}

wait_node() {
    local i st
    for i in $(seq 1 120); do
        st=$(sinfo -h -N -n "$NODE" -o %t 2>/dev/null </dev/null | head -n 1 || true)
        case "$st" in
            idle|mix|alloc|comp|plnd) return 0 ;;
            drain*|drng*|down*|fail*)
                [[ "$st" == *'*' ]] || scontrol update NodeName="$NODE" State=RESUME </dev/null 2>/dev/null || true ;;
        esac
        sleep 0.5
    done
    show_logs
    die "node $NODE is not idle after 60 s (state: ${st:-none})"
}

up() {
    CHANGED=0
    install_packages
    fix_pmix
    write_config
    start_munge
    start_daemon slurmctld "$RUN_DIR/slurmctld.pid" slurmctld -c
    start_daemon slurmd "$RUN_DIR/slurmd.pid" slurmd
    wait_node
    local out
    out=$(timeout 60 srun -n 2 hostname </dev/null 2>&1) || { echo "$out" >&2; show_logs; die "smoke test 'srun -n 2 hostname' failed"; }
    log "up: node $NODE idle; srun -n 2 hostname -> $(echo "$out" | tr '\n' ' ')"
}

# ---------------------------------------------------------------- down

down() {
    if [ ! -s "$STATE_FILE" ]; then
        log "down: nothing was started by 'up' (no $STATE_FILE)"
        return 0
    fi
    local ctld ids i items=() name pid
    ctld=$(recorded_pid slurmctld)
    if [ -n "$ctld" ] && alive "$ctld" slurmctld; then
        ids=$(timeout 10 squeue -h -o %i </dev/null 2>/dev/null || true)
        if [ -n "$ids" ]; then
            log "cancelling jobs: $(echo "$ids" | tr '\n' ' ')"
            # shellcheck disable=SC2086
            timeout 10 scancel $ids </dev/null || true
            for i in $(seq 1 100); do
                [ -z "$(timeout 10 squeue -h -o %i </dev/null 2>/dev/null || true)" ] && break
                sleep 0.1
            done
        fi
    fi
    for name in slurmd slurmctld munged; do
        pid=$(recorded_pid "$name")
        [ -n "$pid" ] && items+=("$name=$pid")
    done
    [ "${#items[@]}" = 0 ] || stop_pids "${items[@]}"
    rm -f "$STATE_FILE"
    log "down: stopped ${items[*]:-nothing}"
}

status() {
    local name pidfile pid
    for name in munged slurmctld slurmd; do
        case $name in
            munged) pidfile=/run/munge/munged.pid ;;
            *) pidfile=$RUN_DIR/$name.pid ;;
        esac
        pid=$(pid_from_file "$pidfile")
        if [ -n "$pid" ] && alive "$pid" "$name"; then echo "$name: running (pid $pid)"; else echo "$name: stopped"; fi
    done
    [ -r "$STATE_FILE" ] && echo "started by up: $(tr '\n' ' ' < "$STATE_FILE")"
    command -v sinfo >/dev/null && timeout 10 sinfo </dev/null 2>&1 || true
}

[ "$(id -u)" = 0 ] || die "run as root (it installs packages and starts system daemons)"
case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
