/* The relay's reader in C: what ``Relaying._python_relay_reader`` does per packet, without a Python frame.
 *
 * A bridge of two legs with the same codec (or an echo) reads each packet with one recv(), checks that it is the
 * usual packet (plain 12-byte header, the negotiated audio type, the relayed source), keeps its bytes for the taps
 * as it came, rewrites the fixed header in place and sends it on with one send(). Anything else goes to the
 * session's general path, ``handle(length)``, in Python, as from the Python reader. The event loop calls
 * ``RelayReader.read``, a METH_NOARGS method: uvloop calls it without building a frame or an argument tuple.
 *
 * Python objects hold what outlives one reader: the shared read buffer (held as a buffer export, so it cannot be
 * resized while a reader uses it), the leg's kept packets (the bytearray and list of lengths the general path
 * appends to as well), the taps lists and the callbacks. The reader counts what it received and sent and keeps
 * the last header it relayed; ``counts()`` reports them as the Python reader does. A packet is sent and counted
 * before any Python of the leg's runs for it (``kept.since``, ``hand_on``), so a re-arm there finds the counts
 * whole. It holds the sockets' numbers, not the socket objects: the leg ``detach()``es it whenever it replaces it
 * or closes a socket, and a detached reader reads and sends nothing (a number the kernel gave to another socket
 * is never touched).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define HEADER_SIZE 12

static PyObject *str_since, *str_last_relayed, *str_send_errors, *one;

typedef struct {
    PyObject_HEAD
    int fd;            /* this leg's socket, connected to its far end */
    int peer_fd;       /* the socket packets go on from (the same one for an echo), connected */
    Py_buffer buffer;  /* the shared read buffer */
    int audio_type, out_type;
    uint32_t source, out_ssrc;
    uint32_t seq_offset, ts_offset;
    Py_ssize_t hand_on_frames;
    PyObject *taps, *peer_taps, *kept, *kept_data, *kept_lengths;
    PyObject *hand_on, *handle, *now, *read_failed, *peer_stats, *peer;
    unsigned long long received, sent;
    int has_last;
    uint32_t last[5];  /* the last relayed header as its source sent it: first, second, sequence, timestamp, SSRC */
} RelayReader;

static PyObject *reader_new(PyTypeObject *type, PyObject *Py_UNUSED(args), PyObject *Py_UNUSED(kwds)) {
    RelayReader *self = (RelayReader *)type->tp_alloc(type, 0);
    if (self != NULL) {
        self->fd = self->peer_fd = -1; /* detached until __init__ sets it up */
    }
    return (PyObject *)self;
}

static int reader_traverse(RelayReader *self, visitproc visit, void *arg) {
    Py_VISIT(self->buffer.obj);
    Py_VISIT(self->taps);
    Py_VISIT(self->peer_taps);
    Py_VISIT(self->kept);
    Py_VISIT(self->kept_data);
    Py_VISIT(self->kept_lengths);
    Py_VISIT(self->hand_on);
    Py_VISIT(self->handle);
    Py_VISIT(self->now);
    Py_VISIT(self->read_failed);
    Py_VISIT(self->peer_stats);
    Py_VISIT(self->peer);
    return 0;
}

static int reader_clear(RelayReader *self) {
    if (self->buffer.obj != NULL) {
        PyBuffer_Release(&self->buffer);
    }
    Py_CLEAR(self->taps);
    Py_CLEAR(self->peer_taps);
    Py_CLEAR(self->kept);
    Py_CLEAR(self->kept_data);
    Py_CLEAR(self->kept_lengths);
    Py_CLEAR(self->hand_on);
    Py_CLEAR(self->handle);
    Py_CLEAR(self->now);
    Py_CLEAR(self->read_failed);
    Py_CLEAR(self->peer_stats);
    Py_CLEAR(self->peer);
    return 0;
}

static void reader_dealloc(RelayReader *self) {
    PyObject_GC_UnTrack(self);
    reader_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int reader_init(RelayReader *self, PyObject *args, PyObject *kwds) {
    static char *names[] = {"fd", "peer_fd", "buffer", "audio_type", "out_type", "source", "out_ssrc",
                            "seq_offset", "ts_offset", "hand_on_frames", "taps", "peer_taps", "kept",
                            "hand_on", "handle", "now", "read_failed", "peer_stats", "peer", NULL};
    int fd, peer_fd, audio_type, out_type;
    unsigned int source, out_ssrc, seq_offset, ts_offset;
    Py_ssize_t hand_on_frames;
    PyObject *buffer, *taps, *peer_taps, *kept, *hand_on, *handle, *now, *read_failed, *peer_stats, *peer;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "iiOiiIIIInOOOOOOOOO", names, &fd, &peer_fd, &buffer, &audio_type,
                                     &out_type, &source, &out_ssrc, &seq_offset, &ts_offset, &hand_on_frames, &taps,
                                     &peer_taps, &kept, &hand_on, &handle, &now, &read_failed, &peer_stats, &peer)) {
        return -1;
    }
    if (!PyList_Check(taps) || !PyList_Check(peer_taps) || !PyDict_Check(peer_stats)) {
        PyErr_SetString(PyExc_TypeError, "taps and peer_taps must be lists, peer_stats a dict");
        return -1;
    }
    PyObject *kept_data = PyObject_GetAttrString(kept, "data");
    PyObject *kept_lengths = kept_data ? PyObject_GetAttrString(kept, "lengths") : NULL;
    if (kept_lengths == NULL || !PyByteArray_Check(kept_data) || !PyList_Check(kept_lengths)) {
        Py_XDECREF(kept_data);
        Py_XDECREF(kept_lengths);
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "kept.data must be a bytearray and kept.lengths a list");
        }
        return -1;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(buffer, &view, PyBUF_WRITABLE) < 0) {
        Py_DECREF(kept_data);
        Py_DECREF(kept_lengths);
        return -1;
    }
    reader_clear(self); /* everything checked: what a reader had goes, the new state comes in */
    self->buffer = view;
    self->fd = fd, self->peer_fd = peer_fd;
    self->audio_type = audio_type, self->out_type = out_type;
    self->source = source, self->out_ssrc = out_ssrc;
    self->seq_offset = seq_offset, self->ts_offset = ts_offset;
    self->hand_on_frames = hand_on_frames;
    self->kept_data = kept_data;
    self->kept_lengths = kept_lengths;
    self->taps = Py_NewRef(taps);
    self->peer_taps = Py_NewRef(peer_taps);
    self->kept = Py_NewRef(kept);
    self->hand_on = Py_NewRef(hand_on);
    self->handle = Py_NewRef(handle);
    self->now = Py_NewRef(now);
    self->read_failed = Py_NewRef(read_failed);
    self->peer_stats = Py_NewRef(peer_stats);
    self->peer = Py_NewRef(peer);
    self->received = self->sent = 0;
    self->has_last = 0;
    return 0;
}

static PyObject *last_header(RelayReader *self) {
    if (!self->has_last) {
        Py_RETURN_NONE;
    }
    uint32_t *h = self->last;
    return Py_BuildValue("(IIIII)", h[0], h[1], h[2], h[3], h[4]);
}

/* The packet's bytes at the end of the kept store and its length after the others (before its header is
 * rewritten); 1 if it is the first kept since the last hand-on, 0 if not, -1 on an error. */
static int keep(RelayReader *self, const unsigned char *packet, Py_ssize_t length) {
    PyObject *data = self->kept_data, *lengths = self->kept_lengths;
    Py_ssize_t size = PyByteArray_GET_SIZE(data);
    if (PyByteArray_Resize(data, size + length) < 0) {
        return -1;
    }
    memcpy(PyByteArray_AS_STRING(data) + size, packet, length);
    int first = PyList_GET_SIZE(lengths) == 0;
    PyObject *count = PyLong_FromSsize_t(length);
    if (count == NULL || PyList_Append(lengths, count) < 0) {
        Py_XDECREF(count);
        return -1;
    }
    Py_DECREF(count);
    return first;
}

/* After the packet went on: when the first kept one came (``kept.since``), and the taps handed what waits once
 * HAND_ON_FRAMES did (the Python they run may re-arm the leg: the packet is sent and counted before). */
static int after_keeping(RelayReader *self, int first) {
    if (first) {
        PyObject *since = PyObject_CallNoArgs(self->now);
        if (since == NULL || PyObject_SetAttr(self->kept, str_since, since) < 0) {
            Py_XDECREF(since);
            return -1;
        }
        Py_DECREF(since);
    }
    if (PyList_GET_SIZE(self->kept_lengths) >= self->hand_on_frames) {
        PyObject *now = PyObject_CallNoArgs(self->now);
        PyObject *done = now ? PyObject_CallOneArg(self->hand_on, now) : NULL;
        Py_XDECREF(now);
        if (done == NULL) {
            return -1;
        }
        Py_DECREF(done);
    }
    return 0;
}

static int count_send_error(RelayReader *self) {
    PyObject *errors = PyDict_GetItemWithError(self->peer_stats, str_send_errors);
    if (errors == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_KeyError, "send_errors");
        }
        return -1;
    }
    PyObject *more = PyNumber_Add(errors, one);
    if (more == NULL || PyDict_SetItem(self->peer_stats, str_send_errors, more) < 0) {
        Py_XDECREF(more);
        return -1;
    }
    Py_DECREF(more);
    return 0;
}

static int relay_one(RelayReader *self);

static PyObject *reader_read(RelayReader *self, PyObject *Py_UNUSED(ignored)) {
    if (self->handle == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "a RelayReader that was not set up");
        return NULL;
    }
    /* held while it runs: the Python it calls (hand_on, handle) may re-arm the leg and drop this reader */
    Py_INCREF(self);
    int done = relay_one(self);
    Py_DECREF(self);
    if (done < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static int relay_one(RelayReader *self) {
    if (self->fd < 0) { /* detached: the leg reads with another reader now */
        return 0;
    }
    unsigned char *buffer = self->buffer.buf;
    ssize_t length = recv(self->fd, buffer, (size_t)self->buffer.len, MSG_DONTWAIT);
    if (length < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            return 0;
        }
        /* ICMP port unreachable from the far end: counted, the socket listened to anew */
        PyObject *done = PyObject_CallNoArgs(self->read_failed);
        Py_XDECREF(done);
        return done == NULL ? -1 : 0;
    }
    if (length > HEADER_SIZE && buffer[0] == 0x80) {
        uint32_t second = buffer[1];
        uint32_t ssrc = (uint32_t)buffer[8] << 24 | (uint32_t)buffer[9] << 16 | (uint32_t)buffer[10] << 8 | buffer[11];
        if ((int)(second & 0x7F) == self->audio_type && ssrc == self->source) {
            uint32_t sequence = (uint32_t)buffer[2] << 8 | buffer[3];
            uint32_t timestamp =
                (uint32_t)buffer[4] << 24 | (uint32_t)buffer[5] << 16 | (uint32_t)buffer[6] << 8 | buffer[7];
            self->received++;
            int kept = -2; /* not kept: no tap listens */
            if (PyList_GET_SIZE(self->taps) || PyList_GET_SIZE(self->peer_taps)) {
                kept = keep(self, buffer, length); /* as it came, before its header is rewritten */
                if (kept < 0) {
                    return -1;
                }
            }
            uint32_t out_sequence = (sequence + self->seq_offset) & 0xFFFF;
            uint32_t out_timestamp = timestamp + self->ts_offset;
            buffer[1] = (unsigned char)(self->out_type | (second & 0x80));
            buffer[2] = out_sequence >> 8, buffer[3] = out_sequence & 0xFF;
            buffer[4] = out_timestamp >> 24, buffer[5] = (out_timestamp >> 16) & 0xFF;
            buffer[6] = (out_timestamp >> 8) & 0xFF, buffer[7] = out_timestamp & 0xFF;
            buffer[8] = self->out_ssrc >> 24, buffer[9] = (self->out_ssrc >> 16) & 0xFF;
            buffer[10] = (self->out_ssrc >> 8) & 0xFF, buffer[11] = self->out_ssrc & 0xFF;
            self->has_last = 1;
            self->last[0] = 0x80, self->last[1] = second, self->last[2] = sequence;
            self->last[3] = timestamp, self->last[4] = ssrc;
            ssize_t sent;
            do {
                sent = send(self->peer_fd, buffer, (size_t)length, MSG_DONTWAIT);
            } while (sent < 0 && errno == EINTR);
            if (sent >= 0) {
                self->sent++;
            } else if (count_send_error(self) < 0) {
                return -1;
            }
            return kept == -2 ? 0 : after_keeping(self, kept);
        }
    }
    if (self->has_last) { /* the general path may relay a later packet: the peer learns of this one first */
        PyObject *last = last_header(self);
        if (last == NULL || PyObject_SetAttr(self->peer, str_last_relayed, last) < 0) {
            Py_XDECREF(last);
            return -1;
        }
        Py_DECREF(last);
        self->has_last = 0;
    }
    PyObject *count = PyLong_FromSsize_t(length);
    if (count == NULL) {
        return -1;
    }
    PyObject *done = PyObject_CallOneArg(self->handle, count);
    Py_DECREF(count);
    Py_XDECREF(done);
    return done == NULL ? -1 : 0;
}

static PyObject *reader_detach(RelayReader *self, PyObject *Py_UNUSED(ignored)) {
    self->fd = self->peer_fd = -1;
    Py_RETURN_NONE;
}

static PyObject *reader_counts(RelayReader *self, PyObject *Py_UNUSED(ignored)) {
    PyObject *last = last_header(self);
    if (last == NULL) {
        return NULL;
    }
    return Py_BuildValue("(KKN)", self->received, self->sent, last);
}

static PyMethodDef reader_methods[] = {
    {"read", (PyCFunction)reader_read, METH_NOARGS, "Read one packet from the socket and relay it (or hand it on)."},
    {"detach", (PyCFunction)reader_detach, METH_NOARGS,
     "Read and send nothing more: the leg reads with another reader, or its sockets close."},
    {"counts", (PyCFunction)reader_counts, METH_NOARGS,
     "(packets received, packets sent, the last relayed header as its source sent it, or None)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject RelayReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "calltape.media._relay_reader.RelayReader",
    .tp_doc = PyDoc_STR("The reader of a leg's socket while the usual packet goes straight on to its peer."),
    .tp_basicsize = sizeof(RelayReader),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = reader_new,
    .tp_init = (initproc)reader_init,
    .tp_dealloc = (destructor)reader_dealloc,
    .tp_traverse = (traverseproc)reader_traverse,
    .tp_clear = (inquiry)reader_clear,
    .tp_methods = reader_methods,
};

static struct PyModuleDef relay_reader_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "calltape.media._relay_reader",
    .m_doc = PyDoc_STR("The relay's reader in C (see calltape.media.relaying)."),
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__relay_reader(void) {
    str_since = PyUnicode_InternFromString("since");
    str_last_relayed = PyUnicode_InternFromString("_last_relayed");
    str_send_errors = PyUnicode_InternFromString("send_errors");
    one = PyLong_FromLong(1);
    if (str_since == NULL || str_last_relayed == NULL || str_send_errors == NULL || one == NULL) {
        return NULL;
    }
    if (PyType_Ready(&RelayReaderType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&relay_reader_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "RelayReader", (PyObject *)&RelayReaderType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
