/* ledger internals shared by the ledger_*.c files; not part of the contract. */
#ifndef DS_LEDGER_INT_H
#define DS_LEDGER_INT_H

#include "codec/codec.h"
#include "ledger/ledger.h"

/* Decodes a str into out (cap bytes incl. NUL) and checks it is a valid
 * chain id (chain) or name; sets and returns the decoder's sticky error. */
int ds__ledger_dec_name(struct ds_dec *d, char *out, size_t cap, bool chain);

#endif
