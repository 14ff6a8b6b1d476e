/* pf_mat5: MATLAB v5 vectors via libmatio (see pf_mat5.h). */
#include "pf_mat5.h"

#include "pf_error.h"

#include <errno.h>
#include <math.h>
#include <matio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* libmatio reports problems through a log hook; keep its last message for our error text
 * instead of letting it print to stderr (or abort, which Mat_Critical may do by default). */
static _Thread_local char mat_msg[256];
static _Thread_local int mat_bad; /* an error or warning was logged: libmatio then returns
                                     zero-filled data for a truncated variable */
static void mat_log(int level, char *message)
{
    snprintf(mat_msg, sizeof mat_msg, "%s", message ? message : "");
    if (level <= 4) mat_bad = 1; /* LOG_LEVEL_ERROR 1, CRITICAL 2, WARNING 4 */
}

static int copy_numeric(const matvar_t *v, double *out, size_t n)
{
    const void *d = v->data;
    for (size_t i = 0; i < n; i++) {
        switch (v->class_type) {
        case MAT_C_DOUBLE: out[i] = ((const double *)d)[i]; break;
        case MAT_C_SINGLE: out[i] = ((const float *)d)[i]; break;
        case MAT_C_INT8: out[i] = ((const int8_t *)d)[i]; break;
        case MAT_C_UINT8: out[i] = ((const uint8_t *)d)[i]; break;
        case MAT_C_INT16: out[i] = ((const int16_t *)d)[i]; break;
        case MAT_C_UINT16: out[i] = ((const uint16_t *)d)[i]; break;
        case MAT_C_INT32: out[i] = ((const int32_t *)d)[i]; break;
        case MAT_C_UINT32: out[i] = ((const uint32_t *)d)[i]; break;
        case MAT_C_INT64: out[i] = (double)((const int64_t *)d)[i]; break;
        case MAT_C_UINT64: out[i] = (double)((const uint64_t *)d)[i]; break;
        default: return -1;
        }
    }
    return 0;
}

static uint32_t le32(const unsigned char *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* libmatio inflates only as many bytes as a variable needs and never checks the zlib
 * stream's Adler-32, so damaged compressed data reads back as wrong numbers without an
 * error. Walk the top-level elements of a little-endian v5 file and inflate every
 * miCOMPRESSED element completely, which verifies the checksum. This is an integrity
 * check of the container only; the variables themselves are parsed by libmatio. */
static int check_compressed(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return pf_err(PF_EIO, "%s: cannot open", path);
    fseeko(f, 0, SEEK_END);
    off_t size = ftello(f);
    fseeko(f, 0, SEEK_SET);
    if (size < 128 || size > (off_t)1 << 30) { /* too short is matio's to report; huge: not checked */
        fclose(f);
        return PF_OK;
    }
    unsigned char *b = malloc((size_t)size);
    int rc = PF_OK;
    if (!b || fread(b, 1, (size_t)size, f) != (size_t)size) rc = pf_err(PF_EIO, "%s: read error", path);
    fclose(f);
    if (rc || b[126] != 'I' || b[127] != 'M') { /* big-endian files: left to libmatio */
        free(b);
        return rc;
    }
    unsigned char sink[16384];
    for (size_t off = 128; !rc && off + 8 <= (size_t)size;) {
        uint32_t type = le32(b + off), len = le32(b + off + 4);
        if (len > (size_t)size - off - 8) {
            rc = pf_err(PF_EFORMAT, "%s byte %zu: element of %u bytes runs past the end of the file (truncated)", path,
                        off, len);
            break;
        }
        if (type == 15) { /* miCOMPRESSED */
            z_stream z;
            memset(&z, 0, sizeof z);
            z.next_in = b + off + 8;
            z.avail_in = len;
            int zr = inflateInit(&z);
            while (zr == Z_OK) {
                z.next_out = sink;
                z.avail_out = sizeof sink;
                zr = inflate(&z, Z_NO_FLUSH);
                if (zr == Z_BUF_ERROR && z.avail_in == 0) break; /* input ended before the stream did */
            }
            inflateEnd(&z);
            if (zr != Z_STREAM_END)
                rc = pf_err(PF_EFORMAT, "%s byte %zu: compressed variable is damaged (zlib: %s)", path, off,
                            zr == Z_DATA_ERROR ? (z.msg ? z.msg : "data error") : "stream ends early");
            off += 8 + (size_t)len; /* compressed elements are not padded */
        } else {
            off += 8 + (((size_t)len + 7) & ~(size_t)7);
        }
    }
    free(b);
    return rc;
}

int pf_mat5_read_vector(const char *path, const char *var, double **out, size_t *n)
{
    Mat_LogInitFunc("physioflow", mat_log);
    mat_msg[0] = 0;
    mat_bad = 0;
    FILE *probe = fopen(path, "rb");
    if (!probe) return pf_err(errno == ENOENT ? PF_ENOTFOUND : PF_EIO, "%s: cannot open: %s", path, strerror(errno));
    fclose(probe);
    int crc = check_compressed(path);
    if (crc) return crc;
    mat_t *mat = Mat_Open(path, MAT_ACC_RDONLY);
    if (!mat) return pf_err(PF_EFORMAT, "%s: not a MATLAB .mat file libmatio can open%s%s", path, mat_msg[0] ? ": " : "", mat_msg);
    unsigned ver = (unsigned)Mat_GetVersion(mat);
    if (ver != MAT_FT_MAT5) {
        Mat_Close(mat);
        return pf_err(PF_EFORMAT, "%s: MATLAB file version 0x%x: expected v5 (0x%x)", path, ver, (unsigned)MAT_FT_MAT5);
    }
    matvar_t *v = NULL;
    if (var) {
        v = Mat_VarRead(mat, var);
    } else {
        matvar_t *info = Mat_VarReadNextInfo(mat);
        if (info && info->name) {
            char name[128];
            snprintf(name, sizeof name, "%s", info->name);
            Mat_VarFree(info);
            v = Mat_VarRead(mat, name);
        } else if (info) {
            Mat_VarFree(info);
        }
    }
    int rc = PF_OK;
    if (!v) {
        rc = pf_err(PF_ENOTFOUND, "%s: variable '%s' not found or unreadable%s%s", path, var ? var : "(first)",
                    mat_msg[0] ? ": " : "", mat_msg);
        goto done;
    }
    if (mat_bad) {
        rc = pf_err(PF_EFORMAT, "%s: variable '%s' is damaged (file truncated?): libmatio: %s", path,
                    v->name ? v->name : "?", mat_msg);
        goto done;
    }
    size_t count = 1;
    int nonunit = 0;
    for (int d = 0; d < v->rank; d++) {
        count *= v->dims[d];
        if (v->dims[d] != 1) nonunit++;
    }
    if (v->isComplex || v->class_type == MAT_C_CHAR || v->class_type == MAT_C_STRUCT ||
        v->class_type == MAT_C_CELL || v->class_type == MAT_C_SPARSE || v->class_type == MAT_C_EMPTY ||
        v->class_type == MAT_C_OBJECT || v->class_type == MAT_C_FUNCTION) {
        rc = pf_err(PF_EFORMAT, "%s: variable '%s' has MATLAB class %d%s: expected a real numeric vector", path,
                    v->name ? v->name : "?", (int)v->class_type, v->isComplex ? " (complex)" : "");
        goto done;
    }
    if (nonunit > 1) {
        rc = pf_err(PF_EFORMAT, "%s: variable '%s' is a %zux%zu%s matrix: expected a vector (1xN or Nx1)", path,
                    v->name ? v->name : "?", v->dims[0], v->rank > 1 ? v->dims[1] : (size_t)1,
                    v->rank > 2 ? "x..." : "");
        goto done;
    }
    if (count && !v->data) {
        rc = pf_err(PF_EFORMAT, "%s: variable '%s' has no data%s%s", path, v->name ? v->name : "?",
                    mat_msg[0] ? ": " : "", mat_msg);
        goto done;
    }
    double *o = malloc((count ? count : 1) * sizeof *o);
    if (!o) {
        rc = pf_err(PF_ENOMEM, "%s: out of memory for %zu values", path, count);
        goto done;
    }
    if (copy_numeric(v, o, count)) {
        free(o);
        rc = pf_err(PF_EFORMAT, "%s: variable '%s' has unsupported class %d", path, v->name ? v->name : "?",
                    (int)v->class_type);
        goto done;
    }
    *out = o;
    *n = count;
done:
    if (v) Mat_VarFree(v);
    Mat_Close(mat);
    return rc;
}
