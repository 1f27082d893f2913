# SPDX-License-Identifier: MIT
# Bash completion for curlfence(1): commands, their options, rules files
# (*.rules, and compiled *.cfimg after -r) and, after "run ... --", the
# command to run with its own completion.
# Installed as $(datadir)/bash-completion/completions/curlfence; or source
# this file.  test/tool.sh compares it with `curlfence --list-options`, so
# an option the tool gains without a line here fails the tests.

_curlfence_commands="check fetch explain lint diff run compile report learn"

# _curlfence_files CUR PATTERN...: directories, and files matching a pattern
_curlfence_files()
{
  local IFS=$'\n' pat
  COMPREPLY+=( $(compgen -d -S / -- "$1") )
  for pat in "${@:2}"; do
    COMPREPLY+=( $(compgen -f -X "!$pat" -- "$1") )
  done
  compopt -o nospace -o filenames 2>/dev/null
}

_curlfence()
{
  local cur prev cmd at i opts
  COMPREPLY=()
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD-1]}
  cmd=
  for (( i = 1; i < COMP_CWORD; i++ )); do
    case ${COMP_WORDS[i]} in
      -*) ;;
      *) cmd=${COMP_WORDS[i]}; at=$i; break ;;
    esac
  done
  if [[ -z $cmd ]]; then
    COMPREPLY=( $(compgen -W "$_curlfence_commands help version -h --help -V --version" -- "$cur") )
    return
  fi
  # run: after "--" come COMMAND and its arguments, not run's
  if [[ $cmd == run ]]; then
    for (( i = at + 1; i < COMP_CWORD; i++ )); do
      [[ ${COMP_WORDS[i]} == -- ]] || continue
      if (( i + 1 == COMP_CWORD )); then
        COMPREPLY=( $(compgen -c -- "$cur") )
      elif declare -F _command_offset >/dev/null; then
        _command_offset $(( i + 1 ))
      else
        COMPREPLY=( $(compgen -f -- "$cur") )
        compopt -o filenames 2>/dev/null
      fi
      return
    done
  fi
  # an option's argument
  case $prev in
    -r|--rules)
      _curlfence_files "$cur" '*.rules' '*.cfimg'; return ;;
    -o|--output)
      if [[ $cmd == compile ]]; then
        _curlfence_files "$cur" '*.cfimg'
      else
        COMPREPLY=( $(compgen -f -- "$cur") ); compopt -o filenames 2>/dev/null
      fi
      return ;;
    --metrics)
      COMPREPLY=( $(compgen -f -- "$cur") ); compopt -o filenames 2>/dev/null
      return ;;
    --audit)
      COMPREPLY=( $(compgen -f -- "$cur") ); compopt -o filenames 2>/dev/null
      [[ $cmd == run ]] && COMPREPLY+=( $(compgen -W "syslog stderr" -- "$cur") )
      return ;;
    --sockets)
      COMPREPLY=( $(compgen -W "all curl" -- "$cur") )
      return ;;
    -p|--port|-H|--header|--max-time|--connect-timeout|--resolve|--watch|--since|--until|--top)
      return ;;
  esac
  case $cmd in
    check)   opts="-r --rules -p --port -n --numeric -q --quiet --resolve --json -h --help" ;;
    explain) opts="-r --rules -p --port --resolve --json -h --help" ;;
    fetch)   opts="-r --rules -o --output -H --header --max-time --connect-timeout --resolve -s --silent -v --verbose --audit --no-audit-url --stats --report-only -h --help" ;;
    lint)    opts="--json -h --help" ;;
    diff)    opts="--json -h --help" ;;
    run)     opts="-r --rules --audit --no-audit-url --report-only --keep-proxy --keep-doh --allow-tftp --watch --metrics --sockets -h --help --" ;;
    compile) opts="-r --rules -o --output -h --help" ;;
    report)  opts="--since --until --top --unused -r --rules --json -h --help" ;;
    learn)   opts="-r --rules -h --help" ;;
    help)    COMPREPLY=( $(compgen -W "$_curlfence_commands" -- "$cur") ); return ;;
    *)       return ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
    return
  fi
  case $cmd in
    lint|diff|compile) _curlfence_files "$cur" '*.rules' ;;
    report|learn) _curlfence_files "$cur" '*.jsonl' '*.log' ;;
  esac
}
complete -F _curlfence curlfence
