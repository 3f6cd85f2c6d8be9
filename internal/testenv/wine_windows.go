package testenv

import "golang.org/x/sys/windows"

// underWine looks for ntdll's wine_get_version, which Wine exports and
// Windows does not.
func underWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}
