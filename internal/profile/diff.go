package profile

import "slices"

// Changes names the fields whose values differ between what a profile was
// made with (was) and what a row asks for now, as a report names them:
// "name", "relationship", "metadata.plan". A sync sends exactly these.
func Changes(was, now Request) []string {
	var diff []string
	if !eqPtr(was.Name, now.Name) {
		diff = append(diff, "name")
	}
	if was.normalised().Relationship != now.normalised().Relationship {
		diff = append(diff, "relationship")
	}
	var keys []string
	for k, v := range was.Metadata {
		if w, ok := now.Metadata[k]; !ok || w != v {
			keys = append(keys, "metadata."+k)
		}
	}
	for k := range now.Metadata {
		if _, ok := was.Metadata[k]; !ok {
			keys = append(keys, "metadata."+k)
		}
	}
	slices.Sort(keys)
	return append(diff, keys...)
}
