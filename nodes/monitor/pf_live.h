/* pf_live: what the `live` node attaches to every bedside chunk it forwards
 * (section PF_SEC_LIVE_META, i64 [PF_LM_N]): where the chunk sits in its
 * bed's stream and the bed's counters so far (docs/nodes/live.md). */
#ifndef PF_LIVE_H
#define PF_LIVE_H

enum {
    PF_LM_BED, PF_LM_SESSION, PF_LM_SEQ,
    PF_LM_T_US,        /* acquisition time of the first sample, us since the epoch */
    PF_LM_RECV_US,     /* wall clock when the live node received it, us since the epoch */
    PF_LM_FLAGS,       /* PF_LMF_* */
    PF_LM_GAP,         /* samples missing right before this chunk (flag GAP) */
    PF_LM_LEAD_OFF,    /* device lead-off bits */
    PF_LM_GAPS, PF_LM_DUPS, PF_LM_REORDERED, PF_LM_BAD, PF_LM_RECONNECTS,
    PF_LM_DROPS,       /* chunks of this bed the live node dropped on a full "drop" edge */
    PF_LM_FLOOD,       /* chunks dropped because the bed exceeded its rate budget */
    PF_LM_TS,          /* timestamp anomalies (clock steps, backwards time) */
    PF_LM_N
};
#define PF_LMF_GAP 1         /* samples are missing before this chunk (never zero-filled) */
#define PF_LMF_NEW_SESSION 2 /* the bed (re)connected: first chunk of a session */
#define PF_LMF_JOINED 4      /* first chunk ever of this bed */

#endif
