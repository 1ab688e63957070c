// glidein's own implementation of the helpers a GlideinWMS custom script expects (issue 24
// section 5), written for glidein: the file glidein_config's ADD_CONFIG_LINE_SOURCE names (the
// functions gconfig_get, gconfig_add / add_config_line, add_condor_vars_line, warn) and the
// program ERROR_GEN_PATH names (`-ok ID [NAME VALUE]...`, `-error ID FAILURE DETAIL [NAME VALUE]...`,
// writing otrb_output.xml in the current directory in the layout GlideinWMS's error_augment.sh
// reads: <result> on line 3, one metric per line). So a GlideinWMS script runs unchanged.

export const CONFIG_LINE_SOURCE = String.raw`# glidein: the glidein_config helpers of GlideinWMS's custom-script protocol (sourced).
warn() { echo "$(date)" "$@" 1>&2; }

# KEY [FILE] [GREP-FLAG]: the value of the last KEY line (nothing when there is none).
gconfig_get() {
    local file="${"${"}2:-$glidein_config}"
    [ -n "$file" ] || { warn "gconfig_get: glidein_config is not set"; exit 1; }
    [ -r "$file" ] || return 0
    awk -v k="$1" 'index($0, k " ") == 1 { v = substr($0, length(k) + 2); found = 1 } END { if (found) print v }' "$file"
}

# FILE FILTER KEY LINE...: FILE without the lines awk FILTER drops (k is KEY), then LINE; by rename.
_glidein_replace_line() {
    local file=$1 filter=$2 key=$3; shift 3
    local tmp="$file.$$.tmp"
    if awk -v k="$key" "$filter" "$file" > "$tmp" && echo "$*" >> "$tmp" && mv "$tmp" "$file"; then
        return 0
    fi
    rm -f "$tmp"
    return 1
}

# KEY VALUE...: every KEY line replaced by one "KEY VALUE..." line (the file replaced by rename).
gconfig_add() {
    [ -n "$glidein_config" ] || { warn "gconfig_add: glidein_config is not set"; exit 1; }
    _glidein_replace_line "$glidein_config" 'index($0, k " ") != 1' "$1" "$@" || { warn "gconfig_add: cannot update $glidein_config"; exit 1; }
}
add_config_line() { gconfig_add "$@"; }
add_config_line_safe() { gconfig_add "$@"; }
gconfig_add_safe() { gconfig_add "$@"; }
gconfig_add_unsafe() { gconfig_add "$@"; }

# NAME TYPE DEFAULT CONDORNAME REQUIRED EXPORT USERENV: the NAME line of $condor_vars_file replaced.
add_condor_vars_line() {
    [ -n "$condor_vars_file" ] || { warn "add_condor_vars_line: condor_vars_file is not set"; return 1; }
    _glidein_replace_line "$condor_vars_file" '{ n = split($0, f, /[ \t]+/); if (f[1] != k) print }' "$1" "$@" || { warn "add_condor_vars_line: cannot update $condor_vars_file"; exit 1; }
}
`;

/** The file GET_ID_SELECTORS_SOURCE names: get_prefix and get_signature for a script's dir id
 * (main, entry, client, client_group), as GlideinWMS scripts source it (check_blacklist.sh). */
export const ID_SELECTORS_SOURCE = String.raw`# glidein: the dir-id selectors of GlideinWMS's custom-script protocol (sourced).
get_prefix() {
    case "$1" in
        main) echo "" ;;
        entry) echo "ENTRY_" ;;
        client) echo "GLIDECLIENT_" ;;
        client_group) echo "GLIDECLIENT_GROUP_" ;;
        *) echo "[get_prefix] Invalid id: $1" 1>&2; return 1 ;;
    esac
}
get_signature() {
    local key
    case "$1" in
        main) key=GLIDEIN_Signature ;;
        entry) key=GLIDEIN_Entry_Signature ;;
        client) key=GLIDECLIENT_Signature ;;
        client_group) key=GLIDECLIENT_Group_Signature ;;
        *) echo "[get_signature] Invalid id: $1" 1>&2; return 1 ;;
    esac
    gconfig_get "$key" "$glidein_config"
}
`;

export const ERROR_GEN = String.raw`#!/bin/bash
# glidein: writes a custom script's otrb_output.xml (GlideinWMS's error_gen.sh interface).
esc() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'; }
ts=$(date +%Y-%m-%dT%H:%M:%S%:z)
metric() { printf '    <metric name="%s" ts="%s" uri="local">%s</metric>\n' "$(printf %s "$1" | esc)" "$ts" "$(printf %s "$2" | tr '\r\n' '  ' | esc)"; }
xml_head() { echo '<?xml version="1.0"?>'; echo "<OSGTestResult id=\"$(printf %s "$1" | esc)\" version=\"4.3.1\">"; echo '  <result>'; echo "    <status>$2</status>"; }
case "$1" in
    -ok)
        id=$2; shift 2
        { xml_head "$id" OK; while [ $# -gt 1 ]; do metric "$1" "$2"; shift 2; done; echo '  </result>'; echo '</OSGTestResult>'; } > otrb_output.xml ;;
    -error)
        id=$2; failure=$3; detail=$4; shift 4
        { xml_head "$id" ERROR; metric failure "$failure"; while [ $# -gt 1 ]; do metric "$1" "$2"; shift 2; done
          echo '  </result>'; echo '  <detail>'; printf '%s\n' "$detail" | esc | sed 's/^/    /'; echo '  </detail>'; echo '</OSGTestResult>'; } > otrb_output.xml ;;
    *)
        echo "Usage: -error|-ok [params]" 1>&2; exit 1 ;;
esac
`;
