#!/bin/sh
# Example auth script, generic protocol (Prosody mod_auth_external, `gatehouse extauth`), in
# POSIX sh with builtins only: no process is forked per query.
#
# A DEMO: the accounts are fixed below, in plain text (alice/wonderland and bob/builder at
# localhost). A real script checks a hashed password store; see auth_users.py.
#
# Reads `command:user:host[:password]` lines on stdin and answers `1` or `0` on stdout, one
# line per query. Exits on EOF.

# Succeeds (status 0) when user@host has this password.
check_password() {
	case "$1@$2" in
	alice@localhost) [ "$3" = wonderland ] ;;
	bob@localhost) [ "$3" = builder ] ;;
	*) return 1 ;;
	esac
}

# Succeeds when user@host is an account.
user_exists() {
	case "$1@$2" in
	alice@localhost | bob@localhost) return 0 ;;
	*) return 1 ;;
	esac
}

# IFS= keeps leading and trailing blanks (they may be part of a password); -r keeps
# backslashes. `read` fails at EOF, which ends the loop and the script.
while IFS= read -r line; do
	# Split with parameter expansion, not IFS: the password is everything after the third
	# colon and may itself contain colons.
	command=${line%%:*}
	rest=${line#*:}
	user=${rest%%:*}
	rest=${rest#*:}
	host=${rest%%:*}
	case "$rest" in
	*:*) password=${rest#*:} ;;
	*) password= ;;
	esac
	ok=0
	case "$command" in
	auth) [ -n "$password" ] && check_password "$user" "$host" "$password" && ok=1 ;;
	isuser) user_exists "$user" "$host" && ok=1 ;;
	esac
	# printf with a fixed format: never echo the input, never let it be a format string.
	printf '%s\n' "$ok"
done
