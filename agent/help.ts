// Help texts for every command, kept apart from the command code so `--help` loads nothing heavy.
// The usage lists come from the command table (agent/command-table.ts).
import { COMMAND_TABLE, subcommandNames, usageLine, type CommandRow } from './command-table.ts';

const PUBLIC = COMMAND_TABLE.filter((c) => !c.internal);
const usage = (rows: readonly CommandRow[]) => rows.map((c) => usageLine(c, '  ')).join('\n');

export const MAIN_HELP = `glidein — pilot agent for grid worker nodes and its credential refresh service

Usage:
${usage(PUBLIC)}
  glidein --version | --help | <command> --help

Commands:
  validate          check this worker node (cores, memory, disk, GPU, CVMFS, container, OS)
  exec              run one job spec through the payload sandbox, print the result
  run               run the pilot: validate, refresh credentials, run payloads
  refresh-service   the factory-side credential refresh service (${subcommandNames('refresh-service').join(', ')})
  audit             the site's audit records: who ran which job as which account, when
  demo              the whole system on this machine

Global flags:
  --log-format human|json   log line format on stderr (default: human on a terminal, else json)
  --log-level debug|info|warn|error

Exit codes: 0 success; 1 the check or job failed; 2 usage or configuration error;
3 a job could not be launched.
`;

export const COMMAND_HELP: Record<string, string> = {
  validate: `Usage: glidein validate [--format table|json|classad|xml] [--require KEY=VALUE]... [--workdir DIR]
                        [--policy FILE [--as ACCOUNT]...] [--glidein-config FILE]

Check what this worker node offers to this pilot and whether it meets the requirements.
Invoked as 'glidein glidein_config [ENTRY_ID]' (as GlideinWMS runs a custom script) it is
'glidein validate --glidein-config glidein_config'.

  --format FORMAT      table (default), json, classad (startd attributes) or xml (OSGTestResult)
  --require KEY=VALUE  a requirement; repeatable. Keys: cores=N, memory=SIZE, disk=SIZE,
                       gpus=N, gpu_memory=SIZE (each GPU), cuda=X.Y, cvmfs=REPO[,REPO...],
                       container=any|apptainer|singularity|bwrap.
                       SIZE like 512MiB, 8GiB, 2GB.
  --workdir DIR        the work directory whose free space is checked (default: current dir)
  --policy FILE        also test the site policy's identity switch: a test payload runs as each
                       account through the sandbox ('identity' check) and every directory down
                       to the work dir must be searchable by it ('permissions' check)
  --as ACCOUNT         test this account (repeatable; default: every account the mapfile names)
  --glidein-config FILE
                       run as a GlideinWMS custom script: requirements from the file's
                       GLIDEIN_VALIDATE_REQUIRE line, otrb_output.xml written in the current dir,
                       the attributes published into FILE and its CONDOR_VARS_FILE; the work
                       dir defaults to FILE's dir. A bad requirement is a Config failure (exit 1)

Exit: 0 all requirements met; 1 a requirement or check failed; 2 bad flag, requirement or policy.
`,
  audit: `Usage: glidein audit [--file PATH] [--uid N | --account NAME | --sub SUB | --job ID | --pid PID [--at TIME]]
                     [--since TIME] [--until TIME] [--format table|json]

Query the site's audit records (the site policy's audit file, or a syslog file that holds
them): one row per job run, its start and end joined. Filters combine (all must match).

  --file PATH      the audit file (default: ${'/var/log/glidein/audit.log'})
  --uid N, --account NAME, --sub SUB, --job ID
                   the local uid or account, the identity token's sub, the job id
  --pid PID        the run whose session leader was PID; for a process alive now, also the
                   run whose cgroup, job marker or session it is in
  --at TIME        with --pid: the run that held PID at TIME; alone: the runs going on then
  --since TIME, --until TIME
                   runs that overlap this span
  --format FORMAT  table (default) or json
TIME: ISO 8601 (2026-12-07T14:02:00Z), a time of day today (14:02, local time) or @UNIX-SECONDS.

Exit: 0 some run matched; 1 none did; 2 bad flag or unreadable file.
`,
  exec: `Usage: glidein exec --job FILE [--policy FILE] [--container-mode MODE] [--default-image IMAGE]

Run one job spec through the payload sandbox (the same path 'glidein run' uses) and print
its result object on stdout.

  --job FILE      the job spec (JSON)
  --policy FILE   the site policy (JSON): identity switching mode, mapfile, issuers,
                  containers (runtime, allowedImageRoots, binds, forbiddenBinds, testImage)
  --container-mode never|optional|preferred|required
                  what a factory entry's bundle field container.mode says (default optional:
                  a container only when the job spec's "container": {"image", "binds"} names one)
  --default-image IMAGE
                  the entry's default image (used under preferred and required)

Exit: the job's exit code; 1 if killed; 3 if held or not launched; 2 bad spec or policy.
`,
  run: `Usage: glidein run --bundle FILE [--workdir DIR] [--policy FILE] [--idle-timeout SECONDS]
                   (--spool DIR | --condor [DIR] | -- COMMAND [ARG...])

Run the pilot: validate the node, keep credentials fresh from the refresh service, run
payloads from a spool directory or one command, then clean up.

  --bundle FILE            the pilot bundle made by 'refresh-service register' (mode 0600)
  --workdir DIR            work directory (default: _CONDOR_SCRATCH_DIR, TMPDIR, ...)
  --policy FILE            site policy for the sandbox (required with --spool)
  --idle-timeout SECONDS   end the pilot when no job arrived for this long (default 1200)
  --spool DIR              run every *.json job spec in DIR
  --condor [DIR]           join the VO's HTCondor pool: supervise condor_master (HTCondor in
                           DIR, CONDOR_LOCATION, PATH or the OSG CVMFS tarball); jobs run
                           through glidein's job wrapper with the --policy identity switching
  -- COMMAND [ARG...]      run one payload as the pilot's own identity
  --failure-delay SECONDS  stay this long after a failed validation before exiting 1
                           (anti-black-hole; default 1200, 0 allowed)
  --heartbeat-interval SECONDS  status reports to the factory (default 300, at least 1)
  --keep-workdir           keep the work dir at exit (the credential store is always wiped)

A bundle whose credentials expired in the queue is refreshed before anything else.
The entry's scripts (bundle field "scripts") are fetched from the refresh service, their
sha256 checked, and run as the pilot (never as root): validate and setup scripts after the
node's checks (a failure fails validation), periodic ones while payloads run (a failure
retires the pilot; it exits 1 once its jobs are done).
Signals: SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2 and SIGXCPU drain (payloads get SIGTERM,
SIGKILL after the kill grace: the policy's killGraceSeconds, else 20 s); SIGQUIT, or a second
signal, drains fast (2 s grace). A drain takes at most the kill grace plus 5 s, even
with a refresh service that never answers (requests in flight are abandoned). Under Slurm the pilot retires before the job's end and drains in time. Start it
with 'exec glidein run ...' from a wrapper script, so signals reach it.

Prints a JSON summary on stdout. Exit: 0 the pilot ran as intended (idle timeout, signal
drain, max lifetime, batch end, the command exited 0); 1 validation failed, the C-CRED expired,
no valid credentials could be obtained, the credential store could not be written (disk-full),
a periodic script failed, or the command failed; 2 bad flag or bundle (also a
bundle already used by a pilot, bound to another pilot's key, or whose refresh_url answers
404); 3 the command could not be started.
`,
  'refresh-service': `Usage: glidein refresh-service ${subcommandNames('refresh-service').join('|')} ...

${PUBLIC.filter((c) => c.name.startsWith('refresh-service ')).map((c) => `${usageLine(c, '  ')}\n      ${c.summary.replaceAll('`', "'")}`).join('\n')}

Run 'glidein refresh-service <subcommand> --help' for details.
`,
  'refresh-service serve': `Usage: glidein refresh-service serve --state DIR [--init] [--config FILE] [--listen HOST:PORT]
                                     [--tls-cert FILE --tls-key FILE]

Serve the refresh protocol (POST /v1/refresh) and its other endpoints.

  --state DIR        state directory (SQLite database, signing keys, admin token); it must
                     exist and be writable by this account (exit 2 naming it otherwise)
  --init             create --state DIR if it does not exist (a new service identity: new
                     signing keys and admin token, logged at warn level). An existing empty
                     dir needs no --init.
  --config FILE      service config (JSON)
  --listen HOST:PORT address to listen on (default 127.0.0.1:8443)
  --tls-cert FILE    TLS certificate chain (PEM); with --tls-key serves HTTPS
  --tls-key FILE     TLS private key (PEM)

Prints {"url", "public_url"} on stdout once listening. SIGTERM or SIGINT: finish the
requests in flight, then exit 0. Exit 2: bad flag, config key, key file, busy address, or a
state dir that is missing (without --init) or not writable.
`,
  'refresh-service register': `Usage: glidein refresh-service register --state DIR [--config FILE] --glidein-id ID --entry NAME
                                        [--url URL]... [--lifetime SECONDS] [--client-name NAME] [--client-group GROUP]
                                        [--schedd NAME] [--cluster-id N] [--proc-id N]

Register a pilot and print its bundle (JSON) on stdout. Write it to a 0600 file.

  --glidein-id ID      the pilot's unique id
  --entry NAME         the factory entry (site) the pilot goes to
  --url URL            the refresh URL the pilot will use (default: config publicUrl).
                       Repeat it (at most 8) for several instances of the service: the
                       bundle lists them in this order and the pilot fails over between
                       them. Each must be that instance's publicUrl (its DPoP htu base).
  --lifetime SECONDS   the pilot's maximum lifetime, 60 to 31622400 (366 days)
                       (default: config refreshFamilyLifetime)

  --client-name NAME   GLIDECLIENT_Name and GLIDEIN_Client of the pilot's startd (GlideinWMS:
                       the requesting frontend and group, '<frontend>.<group>')
  --client-group GROUP GLIDECLIENT_Group
  --schedd NAME, --cluster-id N, --proc-id N
                       GLIDEIN_Schedd, GLIDEIN_ClusterId, GLIDEIN_ProcId: the factory's submission

The entry's HTCondor keys (collector, condorConfig, ccb, site, glideinwms) go into the bundle as
collector, condor_config, ccb, site and glideinwms, for 'glidein run --condor'.
`,
  'refresh-service revoke': `Usage: glidein refresh-service revoke --state DIR [--config FILE] (--glidein-id ID | --entry NAME)

Revoke the refresh family of one pilot, or of every pilot of an entry. Works while 'serve'
runs on the same state directory, or (--config with 'database') the same PostgreSQL
database. Prints {"revoked": N} on stdout.
`,
  'refresh-service migrate': `Usage: glidein refresh-service migrate --config FILE

Create or upgrade the PostgreSQL schema of the database named by the config's 'database'
key (password from the 0600 'databasePasswordFile', else PGPASSWORD). 'serve' does the same
on start under the same lock. Prints {"database", "from", "to"} on stdout. Exit 1 when the
database's schema is newer than this release knows; exit 2 on a bad flag or config.
`,
  'refresh-service pilots': `Usage: glidein refresh-service pilots --state DIR|--config FILE [--entry NAME]
                                      [--status live|draining|ended|revoked|expired|silent]
                                      [--format table|json]

One row per pilot, sorted by entry and glidein id: glidein id, entry, status, registered,
bound (yes/no), last refresh, last heartbeat, pilot state from its last report, validation
verdict with the failed check and its category, node (host name reported), revoked reason.
Status: revoked; expired; ended (reported exit); silent (bound, nothing heard for 900 s);
draining (reported draining or retiring); live (anything else). Times are UTC.

  --state DIR      the service's state directory (SQLite)
  --config FILE    the service config; with 'database' set, reads the shared PostgreSQL
  --entry NAME     only this entry's pilots
  --status STATUS  only pilots in this status
  --format FORMAT  table (default) or json ({"pilots": [...]}, times in unix seconds)

Reads while 'serve' runs. On a terminal, a table longer than the screen goes through $PAGER
(default 'less -FRX'; PAGER=cat turns it off). Exit 2: bad flag, or no state.db in --state.
`,
  'refresh-service entries': `Usage: glidein refresh-service entries --state DIR|--config FILE [--format table|json]

Per entry: live pilots, failed validations and revocations in the last hour/day, refresh
success ratio over the last day, the most common failure category and node, and black holes.
An entry, or a node, is a black hole when over the last day at least 3 of its pilots failed
validation and they are at least half of its pilots that reported a validation. Refresh
counts are written by 'serve' once a minute.

  --state DIR      the service's state directory (SQLite)
  --config FILE    the service config; with 'database' set, reads the shared PostgreSQL
  --format FORMAT  table (default) or json ({"entries": [...]})
`,
  'refresh-service rotate-key': `Usage: glidein refresh-service rotate-key --state DIR|--config FILE

Generate a new S-CRED signing key (ES256) and make it the active one: in the state
directory, or (--config with 'database') in the shared PostgreSQL database, sealed under the
POOL key. Running services sign with it within about a second; the previous keys stay
published in the JWKS, so S-CREDs already issued keep verifying. Prints {"kid", "created_at"}.
Exit 2: bad flag, or --state is not a directory.
`,
  'refresh-service init-key': `Usage: glidein refresh-service init-key [--config FILE]

Make a new HTCondor POOL key (64 random bytes, scrambled as HTCondor stores them) at the
config's poolSigningKeyFile (default /etc/condor/passwords.d/POOL), mode 0600, written
atomically. For a new pool only: a pool that exists already has its key (copy that one).
An existing file is never overwritten (exit 2). Prints {"poolSigningKeyFile"} on stdout.
`,
  demo: `Usage: glidein demo

Run the whole system on this machine: a refresh service on 127.0.0.1 with a temporary state
directory, a registered pilot with short credential lifetimes, and the agent running sample
payloads. Prints the validation table, each refresh as it happens, and a summary. Leaves
nothing behind.
`,
  wrapper: `Usage: glidein wrapper

Internal: the sandbox starts this under the target identity; it reads the job over the
agent's Unix socket, prepares the environment and replaces itself with the payload. Not for
direct use.
`,
};
