package repository

import (
	"context"
	"io"
)

// chunkSize is how much is copied between two checks of the context.
const chunkSize = 256 << 10

// copyCtx copies src to dst until EOF, checking ctx before every chunk so
// that a long copy stops soon after ctx is done. It returns the number of
// bytes written and the first error: ctx's, the reader's or the writer's,
// as they were.
func copyCtx(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, chunkSize)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, rerr := src.Read(buf)
		if m > 0 {
			w, werr := dst.Write(buf[:m])
			n += int64(w)
			if werr == nil && w < m {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return n, werr
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}
