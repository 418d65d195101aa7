package main

import "appealhub/config"

func logConfig(level string) config.Log {
	return config.Log{Level: level, Format: config.DefaultLogFormat}
}
