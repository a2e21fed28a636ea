#!/usr/bin/perl
# Example auth script, ejabberd protocol (extauth_program, `gatehouse extauth --serve-protocol
# ejabberd`), in Perl with core modules only.
#
# A DEMO: the accounts are fixed below, in plain text (alice/wonderland and bob/builder at
# localhost). A real script checks a hashed password store; see auth_users_ejabberd.py.
#
# Each query is a 2-byte big-endian length N, then N bytes of `command:user:host[:password]`;
# each answer is exactly 4 bytes, pack('nn', 2, 1) for yes or pack('nn', 2, 0) for no.
# Exits on EOF.
use strict;
use warnings;

my %PASSWORDS = (
    'alice@localhost' => 'wonderland',
    'bob@localhost'   => 'builder',
);

# Raw bytes both ways: no encoding layer, no newline translation. The password is compared
# as bytes, which is exactly what UTF-8 equality means.
binmode STDIN;
binmode STDOUT;

# Read exactly $n bytes (a pipe may deliver a frame in pieces); undef at EOF.
sub read_exact {
    my ($n) = @_;
    my $buf = '';
    while (length($buf) < $n) {
        my $got = sysread(STDIN, $buf, $n - length($buf), length($buf));
        die "read: $!\n" unless defined $got;
        return undef if $got == 0;
    }
    return $buf;
}

sub answer {
    my ($query) = @_;
    # Limit 4: the password is everything after the third colon, colons included.
    my ($command, $user, $host, $password) = split /:/, $query, 4;
    return 0 unless defined $host;
    my $known = $PASSWORDS{"$user\@$host"};
    if ($command eq 'auth') {
        return defined $known && defined $password && $password ne '' && $password eq $known ? 1 : 0;
    }
    if ($command eq 'isuser') {
        return defined $known && !defined $password ? 1 : 0;
    }
    return 0;    # anything else, known or not: no
}

while (1) {
    my $header = read_exact(2);
    last unless defined $header;    # EOF: the server closed our stdin
    my $length = unpack('n', $header);
    my $query = read_exact($length);
    last unless defined $query;     # EOF inside a frame: nobody left to answer
    # syswrite: one unbuffered write per answer, nothing held back in a buffer.
    syswrite(STDOUT, pack('nn', 2, answer($query)));
}
exit 0;
