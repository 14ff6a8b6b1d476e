/* pf_transport: pf_msg over ZeroMQ sockets. */
#ifndef PF_TRANSPORT_H
#define PF_TRANSPORT_H

#include <stddef.h>

#include "pf_msg.h"

/* --- ZeroMQ transport --------------------------------------------------- */
/* Send as one multipart message. Sections are sent zero-copy: ownership of
 * owned buffers moves to ZeroMQ, which frees them after transmission.
 * zmq_flags: 0 to block, ZMQ_DONTWAIT to fail with PF_EAGAIN (also when a signal
 * interrupted the call: nothing was queued). On PF_EAGAIN the
 * message is untouched and may be re-sent; on success or other errors m is
 * consumed (destroyed). */
int pf_wire_send(void *zsock, pf_msg *m, int zmq_flags);
/* Receive one multipart message. *out is NULL when the message is malformed
 * (return PF_EFORMAT, message text says why; the frames are discarded).
 * pf_wire_recv_routed is for ROUTER sockets: the first frame is the sender's
 * routing id, kept in m->peer. */
int pf_wire_recv(void *zsock, pf_msg **out, int zmq_flags, size_t *bytes_out);
int pf_wire_recv_routed(void *zsock, pf_msg **out, int zmq_flags, size_t *bytes_out);
/* On a ROUTER socket: acknowledge an end-of-stream to the instance that sent it. */
int pf_wire_ack_eos(void *zsock, const pf_msg *eos);

#endif
