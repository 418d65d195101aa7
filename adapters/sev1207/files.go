package sev1207

import (
	"path"
	"strings"
)

// fileTypes maps the file types (DocTransfer@type: a file name extension, as 1207 systems write
// it) that the hub knows to media types. It is fixed, not read from the system's mime database,
// so that encoding and decoding give the same result everywhere.
var fileTypes = map[string]string{
	"asice": "application/vnd.etsi.asic-e+zip",
	"asics": "application/vnd.etsi.asic-s+zip",
	"csv":   "text/csv",
	"doc":   "application/msword",
	"docx":  "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	"gif":   "image/gif",
	"htm":   "text/html",
	"html":  "text/html",
	"jpeg":  "image/jpeg",
	"jpg":   "image/jpeg",
	"json":  "application/json",
	"mp3":   "audio/mpeg",
	"mp4":   "video/mp4",
	"odp":   "application/vnd.oasis.opendocument.presentation",
	"ods":   "application/vnd.oasis.opendocument.spreadsheet",
	"odt":   "application/vnd.oasis.opendocument.text",
	"p7m":   "application/pkcs7-mime",
	"p7s":   "application/pkcs7-signature",
	"pdf":   "application/pdf",
	"png":   "image/png",
	"ppt":   "application/vnd.ms-powerpoint",
	"pptx":  "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	"rtf":   "application/rtf",
	"tif":   "image/tiff",
	"tiff":  "image/tiff",
	"txt":   "text/plain",
	"xls":   "application/vnd.ms-excel",
	"xlsx":  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"xml":   "application/xml",
	"zip":   "application/zip",
}

// preferredType is the file type written for a media type when the file name has no usable
// extension.
var preferredType = map[string]string{
	"image/jpeg": "jpg",
	"image/tiff": "tif",
	"text/html":  "html",
}

// fallbackType is written when neither the file name nor the media type gives a file type.
const fallbackType = "bin"

// fileType returns the DocTransfer@type for a file: its name's extension in lower case when it is
// a short alphanumeric one, else the known extension of its media type, else "bin".
func fileType(fileName, mediaType string) string {
	if ext := extension(fileName); ext != "" {
		return ext
	}
	mt := strings.ToLower(mediaType)
	if t, ok := preferredType[mt]; ok {
		return t
	}
	best := ""
	for t, m := range fileTypes {
		if m == mt && (best == "" || t < best) { // deterministic whatever the map order
			best = t
		}
	}
	if best != "" {
		return best
	}
	return fallbackType
}

// mediaTypeOf returns the media type of a file received in a DocTransfer: from its type, else from
// its file name's extension, else application/octet-stream.
func mediaTypeOf(fileType, fileName string) string {
	if m, ok := fileTypes[strings.ToLower(strings.TrimPrefix(strings.TrimSpace(fileType), "."))]; ok {
		return m
	}
	if m, ok := fileTypes[extension(fileName)]; ok {
		return m
	}
	return "application/octet-stream"
}

// extension returns name's extension without the dot, in lower case, when it is 1 to 10 ASCII
// letters or digits; else "".
func extension(name string) string {
	ext := strings.TrimPrefix(path.Ext(name), ".")
	if ext == "" || len(ext) > 10 {
		return ""
	}
	for _, c := range ext {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return ""
		}
	}
	return strings.ToLower(ext)
}
