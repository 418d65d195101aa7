package store

// RecordOutcomesSQL is the statement recording many delivery attempts' outcomes.
const RecordOutcomesSQL = recordOutcomesSQL

// DeliveryTasksSQL is the statement reading many delivery tasks.
const DeliveryTasksSQL = deliveryTasksSQL
