# SPDX-License-Identifier: MIT
# Bash completion for curlfence(1): subcommands, their options, and rules
# files (*.rules and directories) where a rules file is expected.
# Installed as $(datadir)/bash-completion/completions/curlfence; or source
# this file.

_curlfence_rules_files()
{
  local IFS=$'\n'
  COMPREPLY+=( $(compgen -d -S / -- "$1") )
  COMPREPLY+=( $(compgen -f -X '!*.rules' -- "$1") )
  compopt -o nospace -o filenames 2>/dev/null
}

_curlfence()
{
  local cur prev cmd i opts
  COMPREPLY=()
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD-1]}
  cmd=
  for (( i = 1; i < COMP_CWORD; i++ )); do
    case ${COMP_WORDS[i]} in
      -*) ;;
      *) cmd=${COMP_WORDS[i]}; break ;;
    esac
  done
  if [[ -z $cmd ]]; then
    COMPREPLY=( $(compgen -W "check fetch explain lint diff help --help --version" -- "$cur") )
    return
  fi
  case $prev in
    -r|--rules)
      _curlfence_rules_files "$cur"; return ;;
    -o|--output|--audit)
      COMPREPLY=( $(compgen -f -- "$cur") ); compopt -o filenames 2>/dev/null; return ;;
    -H|--header|--max-time|--connect-timeout|--resolve)
      return ;;
  esac
  case $cmd in
    check)   opts="-r --rules --json -h --help" ;;
    explain) opts="-r --rules --json -h --help" ;;
    fetch)   opts="-r --rules -o --output -H --header --max-time --connect-timeout --resolve -s --silent -v --verbose --audit --stats --report-only -h --help" ;;
    lint)    opts="--json -h --help" ;;
    diff)    opts="--json -h --help" ;;
    help)    COMPREPLY=( $(compgen -W "check fetch explain lint diff" -- "$cur") ); return ;;
    *)       return ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
    return
  fi
  case $cmd in
    lint|diff) _curlfence_rules_files "$cur" ;;
  esac
}
complete -F _curlfence curlfence
