package skyexec

import "strings"

// ChildEnv is environ without skygate's own settings (SKYGATE_TOKEN, SKYGATE_TOKEN_FILE
// and every other SKYGATE_* variable, in any case), for Config.Env: sky gets HOME, PATH
// and the cloud credentials, never skygate's secrets. The result is never nil, so an
// empty one stays empty.
func ChildEnv(environ []string) []string {
	env := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(strings.ToUpper(name), "SKYGATE_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}
