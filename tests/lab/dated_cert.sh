#!/usr/bin/env bash
# Certificates with chosen dates, made by openssl (`openssl ca`, which takes
# -startdate/-enddate), for the tests of certificate dates (certtime):
#
#   tests/lab/dated_cert.sh DIR ca                 DIR/ca.key, DIR/ca.crt: a P-256 CA valid 2019-2099
#   tests/lab/dated_cert.sh DIR NAME START END     DIR/NAME.key, DIR/NAME.crt: a TLS server
#                                                  certificate for hub.test, signed by DIR's CA,
#                                                  valid START to END (YYYYMMDDHHMMSSZ, UTC)
#
# The CA's own dates reach far both ways, so only the leaf's dates decide.
set -euo pipefail
dir=$1 name=$2
cd "$dir"
if [ ! -f ca.cnf ]; then
	cat >ca.cnf <<-'CNF'
	[ca]
	default_ca = d
	[d]
	dir = .
	database = index.txt
	new_certs_dir = .
	serial = serial
	default_md = sha256
	policy = p
	unique_subject = no
	[p]
	commonName = supplied
	[v3_ca]
	basicConstraints = critical,CA:TRUE
	keyUsage = critical,keyCertSign,cRLSign
	subjectKeyIdentifier = hash
	[leaf]
	basicConstraints = CA:FALSE
	keyUsage = critical,digitalSignature
	extendedKeyUsage = serverAuth
	subjectAltName = DNS:hub.test,IP:10.99.0.1
	CNF
	: >index.txt
	echo 01 >serial
fi
q() { "$@" >/dev/null 2>openssl.err || { cat openssl.err >&2; exit 1; }; }
if [ "$name" = ca ]; then
	q openssl ecparam -name prime256v1 -genkey -noout -out ca.key
	q openssl req -new -key ca.key -subj /CN=tg-dated-ca -out ca.csr
	q openssl ca -batch -config ca.cnf -selfsign -keyfile ca.key -in ca.csr -out ca.crt -notext \
		-startdate 20190101000000Z -enddate 20991231235959Z -extensions v3_ca
	exit 0
fi
q openssl ecparam -name prime256v1 -genkey -noout -out "$name.key"
q openssl req -new -key "$name.key" -subj /CN=hub.test -out "$name.csr"
q openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -in "$name.csr" -out "$name.crt" -notext \
	-startdate "$3" -enddate "$4" -extensions leaf
