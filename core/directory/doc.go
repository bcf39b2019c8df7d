// Package directory keeps the platform's directories and classifiers:
// regions, forms of provision, funding sources, the KMSZ classifier, the
// production calendar, subsistence minimums and the like.
//
// A directory is a set of coded entries. Every entry version is valid for a
// period of civil dates (effective_from, effective_to), so a lookup "as of a
// date" finds the version in force on that date and a decision can always
// use the values of its own date. A directory declares the attributes its
// entries carry, with their types; every directory also accepts "sample"
// (a value loaded as a placeholder, to be replaced) and "note".
//
// Directories and their entries are platform-owned: the federal operator
// publishes them. A directory marked extensible also takes a region's own
// entries — regional recipient categories, regional non-working days — kept
// apart in a tenant-owned table; a lookup for a region returns the platform's
// entries merged with the region's.
//
// Entries load from CSV and JSON files (every bad line reported by number,
// nothing written unless the whole file is good) and from the official
// EGISSO formats of the KMSZ classifier (10.01.O and 10.02.I).
package directory
