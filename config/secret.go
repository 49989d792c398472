package config

import (
	"encoding/json"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Redacted is what a set secret prints as.
const Redacted = "[redacted]"

// Secret is a string that never prints: fmt (every verb, %#v included), slog and encoding/json
// show [Redacted] when it is set and "" when it is not. Call Value for the secret itself, only where
// it is handed to the AWS SDK.
type Secret string

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// String implements [fmt.Stringer] without revealing the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString implements [fmt.GoStringer], for %#v.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// LogValue implements [slog.LogValuer].
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements [encoding.TextMarshaler], so JSON and YAML encoders redact it too.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue implements [slog.LogValuer]: a group per concern (llm, aws, server, pool) whose keys are
// the variables' canonical names, secrets redacted and AWS_ACCESS_KEY_ID masked, then env_file.
func (c Config) LogValue() slog.Value {
	v := reflect.ValueOf(c)
	var groups []slog.Attr
	var names []string
	var attrs [][]slog.Attr
	for _, s := range settingsOf(v.Type()) {
		name := strings.ToLower(v.Type().Field(s.index[0]).Name)
		if len(names) == 0 || names[len(names)-1] != name {
			names = append(names, name)
			attrs = append(attrs, nil)
		}
		last := len(attrs) - 1
		attrs[last] = append(attrs[last], slog.Attr{Key: s.key, Value: settingValue(s, v.FieldByIndex(s.index))})
	}
	for i, name := range names {
		groups = append(groups, slog.Attr{Key: name, Value: slog.GroupValue(attrs[i]...)})
	}
	return slog.GroupValue(append(groups, slog.String("env_file", c.EnvFile))...)
}

// settingValue is how a setting's value is logged.
func settingValue(s setting, f reflect.Value) slog.Value {
	if s.field.Tag.Get("mask") == "last4" {
		str := f.String()
		if len(str) > 4 {
			str = strings.Repeat("*", len(str)-4) + str[len(str)-4:]
		}
		return slog.StringValue(str)
	}
	if f.Kind() == reflect.Pointer {
		if f.IsNil() {
			return slog.StringValue("")
		}
		f = f.Elem()
	}
	switch x := f.Interface().(type) {
	case slog.LogValuer: // Secret, ModelMap
		return x.LogValue()
	case slog.Level:
		return slog.StringValue(strings.ToLower(x.String()))
	case time.Duration: // as text: slog's JSON handler would write nanoseconds
		return slog.StringValue(x.String())
	}
	return slog.AnyValue(f.Interface())
}

// String implements [fmt.Stringer]: the settings as space-separated NAME=value pairs prefixed by
// their concern (llm.CHAT_MODEL=...), secrets redacted, as [Config.LogValue] has them.
func (c Config) String() string {
	var b strings.Builder
	var write func(prefix string, attrs []slog.Attr)
	write = func(prefix string, attrs []slog.Attr) {
		for _, a := range attrs {
			v := a.Value.Resolve()
			if v.Kind() == slog.KindGroup {
				write(prefix+a.Key+".", v.Group())
				continue
			}
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(prefix + a.Key + "=")
			s := v.String()
			if s == "" || strings.ContainsAny(s, " \t\n\"=") || !strconv.CanBackquote(s) {
				s = strconv.Quote(s)
			}
			b.WriteString(s)
		}
	}
	write("", c.LogValue().Group())
	return b.String()
}

// GoString implements [fmt.GoStringer], so %#v shows what String shows rather than the fields.
func (c Config) GoString() string { return "config.Config{" + c.String() + "}" }

// MarshalJSON implements [json.Marshaler] with the view of [Config.LogValue], in the same order.
func (c Config) MarshalJSON() ([]byte, error) { return appendJSON(nil, c.LogValue()) }

// appendJSON encodes a slog value, groups as objects in attribute order.
func appendJSON(b []byte, v slog.Value) ([]byte, error) {
	v = v.Resolve()
	if v.Kind() != slog.KindGroup {
		j, err := json.Marshal(v.Any())
		return append(b, j...), err
	}
	b = append(b, '{')
	for i, a := range v.Group() {
		if i > 0 {
			b = append(b, ',')
		}
		k, err := json.Marshal(a.Key)
		if err != nil {
			return nil, err
		}
		b = append(append(b, k...), ':')
		if b, err = appendJSON(b, a.Value); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}
