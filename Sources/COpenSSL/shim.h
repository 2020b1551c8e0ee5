#ifndef BCLI_COPENSSL_SHIM_H
#define BCLI_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#endif
