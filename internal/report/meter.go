package report

// EstimateTotal is the number of rows in an input of size bytes, judged
// from the first rows, which took bytes of it: what gives the progress bar a
// total and an ETA without a pass over the file first. It is -1 before
// there is anything to judge from or when the size is unknown (stdin, a
// pipe), and exact once the whole input is read.
func EstimateTotal(rows, bytes, size int64) int64 {
	switch {
	case size <= 0 || rows <= 0 || bytes <= 0:
		return -1
	case bytes >= size:
		return rows
	}
	return max(rows, int64(float64(rows)*float64(size)/float64(bytes)))
}
