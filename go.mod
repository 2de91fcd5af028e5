module github.com/sessionx-redis/redisstore

go 1.26
